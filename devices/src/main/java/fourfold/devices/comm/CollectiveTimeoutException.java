package fourfold.devices.comm;

/**
 * A wait inside a collective or a receive lasted longer than the cluster's collective timeout:
 * the message names the operation, the group and the ranks that never arrived.
 */
public final class CollectiveTimeoutException extends RuntimeException {
    public CollectiveTimeoutException(String message) {
        super(message);
    }
}
