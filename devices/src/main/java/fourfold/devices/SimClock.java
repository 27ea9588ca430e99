package fourfold.devices;

/**
 * Simulated time of one device, in seconds, on two lanes as a GPU has two streams:
 * <ul>
 * <li>the compute lane ({@link #now()}): kernels advance it by their modeled cost, a blocking
 *   collective or a receive advances it to the message's arrival, waiting on an async collective
 *   advances it to that collective's end;</li>
 * <li>the comm lane ({@link #commLaneFree()}): async collectives run on it one after another, each
 *   starting at max(issue time on the compute lane, end of the previous one), so gradient reduction
 *   overlaps backward compute exactly as it would on a separate CUDA stream.</li>
 * </ul>
 * Messages carry their send time, so the clock never depends on how busy the host CPU is.
 */
public final class SimClock {
    private double now;
    private double commFree;

    /** Time on the compute lane. */
    public synchronized double now() {
        return now;
    }

    public synchronized void advanceBy(double seconds) {
        if (!(seconds >= 0)) throw new IllegalArgumentException("negative or NaN time step " + seconds);
        now += seconds;
    }

    /** Moves the compute lane forward to {@code t} (a wait); never backwards. Returns the time waited. */
    public synchronized double advanceTo(double t) {
        double waited = Math.max(0, t - now);
        now += waited;
        return waited;
    }

    /** When the comm lane has finished everything booked on it so far. */
    public synchronized double commLaneFree() {
        return commFree;
    }

    /** Books the comm lane until {@code end} (never backwards). */
    public synchronized void occupyCommUntil(double end) {
        commFree = Math.max(commFree, end);
    }

    /** Both lanes back to 0. */
    public synchronized void reset() {
        now = 0;
        commFree = 0;
    }
}
