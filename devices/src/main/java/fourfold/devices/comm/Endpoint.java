package fourfold.devices.comm;

import fourfold.devices.DeviceMemory;

import java.lang.foreign.MemorySegment;

/**
 * One member's side of one collective: what its peers may write into and the counters they
 * synchronize on. In the ring, chain and pairwise algorithms everything is pushed: a member writes
 * into its successor's staging slots (ring reduce-scatter) or straight into a peer's buffer
 * (all-gather, broadcast, all-to-all), and never reads another member's memory, so a member that
 * has finished can free its staging at once. The direct algorithms ({@link DirectCollective}) also
 * read the buffer a peer published in {@link #target}, and synchronize at the {@link Op}'s
 * {@link Rendezvous} instead of these counters; staging stays private to its owner there.
 *
 * <p>Each counter has one writer. Counters are volatile for a lock-free fast path; writes happen
 * under this object's lock and wake waiters. Values written before a post (step times, slots)
 * are visible to whoever has seen the post.
 */
final class Endpoint {
    enum Signal { ARRIVED, POSTED, CONSUMED, DIRECT, READY }

    final int member;
    /** Simulated time at which this member started each step (written by the owner before it posts that step). */
    final double[] stepTime;

    private volatile boolean arrived;
    private volatile boolean ready;
    /** Slices the predecessor has posted into this member's staging slots. */
    private volatile long posted;
    /** Staging slices this member has consumed (freeing the slot for the predecessor). */
    private volatile long consumed;
    /** Slices peers have written straight into {@link #target}. */
    private volatile long direct;
    private int waiters;

    private MemorySegment target;
    private DeviceMemory.Block staging;
    private MemorySegment stagingSegment;
    private long slotBytes;
    private int slots;

    Endpoint(int member, int steps) {
        this.member = member;
        this.stepTime = new double[Math.max(2, steps)];
    }

    /**
     * Publishes what peers need and marks this member present. {@code staging} (may be null) holds
     * {@code slots} slots of {@code slotBytes}; {@code ready} says whether peers may write into
     * {@code target} right away.
     */
    synchronized void arrive(MemorySegment target, DeviceMemory.Block staging, int slots, long slotBytes, double start, boolean ready) {
        this.target = target;
        this.staging = staging;
        this.stagingSegment = staging == null ? null : staging.segment();
        this.slots = slots;
        this.slotBytes = slotBytes;
        this.stepTime[0] = start;
        this.ready = ready;
        this.arrived = true;
        wake();
    }

    boolean arrived() {
        return arrived;
    }

    MemorySegment target() {
        return target;
    }

    MemorySegment staging() {
        return stagingSegment;
    }

    /** Byte offset of the slot that slice number {@code index} of the stream uses. */
    long slotOffset(long index) {
        return (index % slots) * slotBytes;
    }

    int slots() {
        return slots;
    }

    synchronized void post() {
        posted++;
        wake();
    }

    synchronized void consume() {
        consumed++;
        wake();
    }

    synchronized void directPost() {
        direct++;
        wake();
    }

    synchronized void markReady() {
        ready = true;
        wake();
    }

    private void wake() {
        if (waiters > 0) notifyAll();
    }

    private long value(Signal s) {
        return switch (s) {
            case ARRIVED -> arrived ? 1 : 0;
            case READY -> ready ? 1 : 0;
            case POSTED -> posted;
            case CONSUMED -> consumed;
            case DIRECT -> direct;
        };
    }

    /**
     * Waits until signal {@code s} reaches {@code target}, for at most the run's timeout; the
     * timeout message comes from {@code who} (which knows the operation and the peer).
     */
    void await(Signal s, long target, Collective who, int peer) {
        if (value(s) >= target) return;
        synchronized (this) {
            long deadline = who.run.deadline();
            waiters++;
            try {
                while (value(s) < target) who.run.waitOn(this, deadline, () -> who.timeoutMessage(s, peer), who.label);
            } finally {
                waiters--;
            }
        }
    }

    /** Frees this member's staging (idempotent); called by the owner when done, or by the cluster after a failed run. */
    synchronized void freeStaging() {
        if (staging != null) {
            staging.close();
            staging = null;
            stagingSegment = null;
        }
    }
}
