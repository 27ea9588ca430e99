package fourfold.devices;

/**
 * Thrown on a rank whose wait (a collective, a receive, an await) was cut short because another
 * rank failed: names that rank and its error, as torchrun tears down the other processes.
 */
public final class ClusterAbortedException extends RuntimeException {
    private final int failedRank;

    public ClusterAbortedException(int failedRank, String message) {
        super(message);
        this.failedRank = failedRank;
    }

    /** The global rank whose failure aborted the run. */
    public int failedRank() {
        return failedRank;
    }
}
