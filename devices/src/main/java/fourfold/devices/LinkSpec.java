package fourfold.devices;

/**
 * One kind of link between two devices: a message of B bytes takes {@code latency + B / bandwidth}
 * seconds once both ends are ready (the alpha-beta model NCCL's own tuner uses).
 *
 * @param latency   seconds per message (per ring step)
 * @param bandwidth bytes per second, in one direction
 */
public record LinkSpec(String name, double latency, double bandwidth) {
    public LinkSpec {
        if (!(latency >= 0)) throw new IllegalArgumentException("link " + name + ": latency must be >= 0, got " + latency);
        if (!(bandwidth > 0)) throw new IllegalArgumentException("link " + name + ": bandwidth must be > 0, got " + bandwidth);
    }

    /** Seconds to move {@code bytes} over this link. */
    public double time(long bytes) {
        return latency + bytes / bandwidth;
    }
}
