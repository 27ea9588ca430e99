package fourfold.devices;

/**
 * Simulated time of one device, in seconds. Kernels advance it by their modeled cost, messages by
 * their link model, so step times, bubbles and stalls do not depend on how busy the host CPU is.
 */
public final class SimClock {
    private double now;

    public synchronized double now() {
        return now;
    }

    public synchronized void advanceBy(double seconds) {
        if (seconds < 0) throw new IllegalArgumentException("negative time step " + seconds);
        now += seconds;
    }

    /** Moves the clock forward to {@code t} (a wait); never backwards. Returns the time waited. */
    public synchronized double advanceTo(double t) {
        double waited = Math.max(0, t - now);
        now += waited;
        return waited;
    }

    public synchronized void reset() {
        now = 0;
    }
}
