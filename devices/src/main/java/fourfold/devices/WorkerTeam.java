package fourfold.devices;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * The worker threads of one device, run as an OpenMP-style team: the thread that calls
 * {@link #parallelFor} and {@code size - 1} persistent helpers claim the loop's chunks from a
 * shared counter. Between loops a helper spin-waits for the next one for a short while before it parks.
 *
 * <p>Why not a ForkJoinPool: a training step of a small model is hundreds of parallel loops of
 * 50-500 us each, and a pool worker that has parked must be woken by the OS (on a VM, by the
 * hypervisor) for every loop; measured on this 2-vCPU VM, those wake-ups cost as much as a third
 * of a step and made the step time swing with the host's load. A helper that is still spinning
 * picks the loop up within a microsecond. The spin is bounded ({@value #DEFAULT_SPIN_MICROS} us,
 * or {@code -Dfourfold.spinMicros}), so an idle device costs nothing after that.
 *
 * <p>Chunk bounds depend only on n and the chunk count, never on which thread runs a chunk or
 * whether helpers are free, so results are the same as a serial run over the same chunks
 * (a kernel whose result depends on its chunks, such as partial sums, stays deterministic).
 */
final class WorkerTeam implements AutoCloseable {
    static final long DEFAULT_SPIN_MICROS = 200;
    private static final long SPIN_NANOS = Long.getLong("fourfold.spinMicros", DEFAULT_SPIN_MICROS) * 1000;

    /** One parallel loop: a new object each time, so a helper can tell a new loop from the last one it ran. */
    private static final class Job {
        final Device.RangeBody body;
        final int n, chunks;
        /** The next chunk to claim, and the chunks finished. */
        final AtomicInteger next = new AtomicInteger(), done = new AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();

        Job(Device.RangeBody body, int n, int chunks) {
            this.body = body;
            this.n = n;
            this.chunks = chunks;
        }

        void run(int chunk) {
            body.run((int) ((long) n * chunk / chunks), (int) ((long) n * (chunk + 1) / chunks));
        }

        /** Claims and runs chunks until none is left. */
        void work() {
            for (int c; (c = next.getAndIncrement()) < chunks; ) {
                try {
                    run(c);
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
                done.incrementAndGet();
            }
        }
    }

    private final Thread[] helpers;
    private final boolean[] parked; // guarded by volatile job/closed writes (Dekker-style handshake below)
    private final AtomicBoolean busy = new AtomicBoolean();
    private volatile Job job;
    private volatile boolean closed;

    /** A team of {@code size} threads: the caller and {@code size - 1} helpers named {@code name-1 ...}. */
    WorkerTeam(String name, int size) {
        helpers = new Thread[size - 1];
        parked = new boolean[size - 1];
        for (int i = 0; i < helpers.length; i++) {
            int chunk = i + 1;
            helpers[i] = Thread.ofPlatform().name(name + "-" + chunk).daemon().unstarted(() -> helperLoop(chunk));
            helpers[i].start();
        }
    }

    int size() {
        return helpers.length + 1;
    }

    /**
     * Runs body over [0, n) in {@code chunks} contiguous chunks (any number: more chunks than
     * threads balance the load). Threads claim chunks in order from a shared counter, so a helper
     * that starts late takes fewer of them.
     */
    void parallelFor(int n, int chunks, Device.RangeBody body) {
        if (chunks <= 1) {
            body.run(0, n);
            return;
        }
        Job j = new Job(body, n, chunks);
        // A loop started from inside a chunk, or from a second thread while the team is busy, runs
        // its chunks one after another on the caller: same chunks, so the same result.
        if (isHelper() || !busy.compareAndSet(false, true)) {
            for (int c = 0; c < chunks; c++) j.run(c);
            return;
        }
        try {
            job = j;
            for (int i = 0; i < Math.min(helpers.length, chunks - 1); i++) {
                if (readParked(i)) LockSupport.unpark(helpers[i]);
            }
            j.work();
            awaitHelpers(j);
        } finally {
            busy.set(false);
        }
        Throwable t = j.failure.get();
        if (t instanceof RuntimeException e) throw e;
        if (t instanceof Error e) throw e;
        if (t != null) throw new IllegalStateException(t);
    }

    private static void awaitHelpers(Job j) {
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        while (j.done.get() < j.chunks) {
            if (System.nanoTime() < spinUntil) Thread.onSpinWait();
            else Thread.yield(); // a helper was descheduled: let it run
        }
    }

    private boolean isHelper() {
        Thread me = Thread.currentThread();
        for (Thread h : helpers) if (h == me) return true;
        return false;
    }

    private void helperLoop(int chunk) {
        int slot = chunk - 1;
        Job last = null;
        while (true) {
            Job j = awaitJob(slot, last);
            if (j == null) return; // closed
            last = j;
            if (chunk < j.chunks) j.work();
        }
    }

    /** Spins, then parks, until a job other than {@code last} is posted; null once closed. */
    private Job awaitJob(int slot, Job last) {
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        Job j;
        while ((j = job) == last) {
            if (closed) return null;
            if (System.nanoTime() < spinUntil) {
                Thread.onSpinWait();
                continue;
            }
            // Announce the park, then look again: a caller that posts after our look sees the flag.
            writeParked(slot, true);
            if (job == last && !closed) LockSupport.park(this);
            writeParked(slot, false);
            spinUntil = System.nanoTime() + SPIN_NANOS;
        }
        return j;
    }

    private synchronized boolean readParked(int slot) {
        return parked[slot];
    }

    private synchronized void writeParked(int slot, boolean value) {
        parked[slot] = value;
    }

    @Override
    public void close() {
        closed = true;
        for (Thread h : helpers) LockSupport.unpark(h);
        for (Thread h : helpers) {
            try {
                h.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
