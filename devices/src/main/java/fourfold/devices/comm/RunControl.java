package fourfold.devices.comm;

import fourfold.devices.ClusterAbortedException;
import fourfold.devices.KernelTimes;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The state shared by all ranks of one {@code Cluster.run}: the first failure (which aborts every
 * other rank's waits) and the timeout every wait obeys. Waits poll the abort flag at least every
 * {@value #POLL_MILLIS} ms, so an abort reaches a blocked rank promptly without interrupts (which
 * would also close the program's file channels).
 */
public final class RunControl {
    static final long POLL_MILLIS = 10;

    /** The first failure of a run. */
    public record Failure(int rank, Throwable cause) {}

    private final long timeoutNanos;
    private final AtomicReference<Failure> failure = new AtomicReference<>();

    public RunControl(long timeoutNanos) {
        if (timeoutNanos <= 0) throw new IllegalArgumentException("collective timeout must be positive, got " + timeoutNanos + " ns");
        this.timeoutNanos = timeoutNanos;
    }

    public long timeoutNanos() {
        return timeoutNanos;
    }

    /** Records {@code cause} as the run's failure if it is the first; returns whether it was. */
    public boolean fail(int rank, Throwable cause) {
        return failure.compareAndSet(null, new Failure(rank, cause));
    }

    public Failure failure() {
        return failure.get();
    }

    public boolean aborted() {
        return failure.get() != null;
    }

    /** Throws {@link ClusterAbortedException} when another rank has failed. */
    public void checkAborted(String where) {
        Failure f = failure.get();
        if (f != null) throw aborted(f, where);
    }

    static ClusterAbortedException aborted(Failure f, String where) {
        return new ClusterAbortedException(f.rank(), where + " aborted: rank " + f.rank() + " failed with "
                + f.cause().getClass().getSimpleName() + ": " + f.cause().getMessage());
    }

    public long deadline() {
        return System.nanoTime() + timeoutNanos;
    }

    public String timeoutText() {
        double s = timeoutNanos / 1e9;
        return s >= 1 ? String.format(java.util.Locale.ROOT, "%.1f s", s) : String.format(java.util.Locale.ROOT, "%.0f ms", s * 1e3);
    }

    /**
     * One bounded wait on {@code monitor}, whose lock the caller holds: throws on abort or past
     * {@code deadline} (the message comes from {@code timeout}); otherwise waits a little and returns
     * so the caller re-checks its condition.
     */
    void waitOn(Object monitor, long deadline, TimeoutMessage timeout, String where) {
        Failure f = failure.get();
        if (f != null) throw aborted(f, where);
        long left = deadline - System.nanoTime();
        if (left <= 0) throw new CollectiveTimeoutException(timeout.message());
        long t0 = System.nanoTime();
        try {
            TimeUnit.NANOSECONDS.timedWait(monitor, Math.min(left, TimeUnit.MILLISECONDS.toNanos(POLL_MILLIS)));
            KernelTimes.waited(System.nanoTime() - t0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ClusterAbortedException(-1, where + " interrupted");
        }
    }

    /** Builds a timeout message only when one is needed. */
    @FunctionalInterface
    interface TimeoutMessage {
        String message();
    }
}
