package fourfold.devices.mpi;

import fourfold.devices.KernelTimes;
import fourfold.devices.comm.CollectiveTimeoutException;
import fourfold.devices.comm.RunControl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The MPI requests of one step of one operation, and the bounded wait for them: MPI_Testall is
 * polled (spinning briefly, then yielding the core, then sleeping a little, since several ranks
 * may share a core) until everything has completed, the run is aborted, or the collective
 * timeout has passed. Owned by one thread; close frees its native memory.
 */
final class Requests implements AutoCloseable {
    private final Mpi mpi;
    private final RunControl run;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment handles;
    private final MemorySegment flag;
    private final int capacity;
    private int count;

    Requests(Mpi mpi, RunControl run, int capacity) {
        this.mpi = mpi;
        this.run = run;
        this.capacity = Math.max(1, capacity);
        this.handles = arena.allocate(ValueLayout.ADDRESS, this.capacity);
        this.flag = arena.allocate(ValueLayout.JAVA_INT);
    }

    /** Native scratch for small messages (send times) that live as long as these requests. */
    MemorySegment scratch(long bytes) {
        return arena.allocate(bytes, 8);
    }

    private MemorySegment next() {
        if (count == capacity) throw new IllegalStateException("more than " + capacity + " MPI requests in one step");
        return handles.asSlice((long) count++ * ValueLayout.ADDRESS.byteSize(), ValueLayout.ADDRESS.byteSize());
    }

    void send(MemorySegment buf, int peer, int tag, MemorySegment comm) {
        mpi.isend(buf, bytes(buf), peer, tag, comm, next());
    }

    void recv(MemorySegment buf, int peer, int tag, MemorySegment comm) {
        mpi.irecv(buf, bytes(buf), peer, tag, comm, next());
    }

    private static int bytes(MemorySegment buf) {
        if (buf.byteSize() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("one MPI message is limited to 2 GiB, got " + buf.byteSize() + " bytes");
        }
        return (int) buf.byteSize();
    }

    /**
     * Receives one message into {@code buf} and returns its length in bytes. A message longer
     * than {@code buf} is an {@link IllegalArgumentException} (MPI reports it as truncated).
     */
    int recvCounting(MemorySegment buf, int peer, int tag, MemorySegment comm, String where, Supplier<String> timeout) {
        if (count != 0) throw new IllegalStateException("recvCounting needs a fresh set of requests");
        MemorySegment handle = next();
        MemorySegment status = arena.allocate(Mpi.STATUS_BYTES, 8);
        mpi.irecv(buf, bytes(buf), peer, tag, comm, handle);
        try {
            poll(run, () -> mpi.test(handle, flag, status), where, timeout);
        } catch (MpiException e) {
            count = 0; // the request has completed, with an error
            throw new IllegalArgumentException(where + ": the message is longer than the receive buffer (" + e.getMessage()
                    + "); send and recv must use the same length");
        }
        count = 0;
        return mpi.receivedBytes(status);
    }

    /** Waits for every posted request; {@code timeout} builds the message naming who never answered. */
    void await(String where, Supplier<String> timeout) {
        if (count == 0) return;
        poll(run, () -> mpi.testAll(count, handles, flag), where, timeout);
        count = 0;
    }

    /** Polls {@code done} until true, with the same abort and timeout rules as the in-process waits. */
    static void poll(RunControl run, BooleanSupplier done, String where, Supplier<String> timeout) {
        long deadline = run.deadline();
        long t0 = System.nanoTime();
        try {
            pollUntil(run, done, where, timeout, deadline);
        } finally {
            KernelTimes.waited(System.nanoTime() - t0);
        }
    }

    private static void pollUntil(RunControl run, BooleanSupplier done, String where, Supplier<String> timeout, long deadline) {
        for (int spins = 0; !done.getAsBoolean(); spins++) {
            run.checkAborted(where);
            if (System.nanoTime() > deadline) throw new CollectiveTimeoutException(timeout.get());
            if (spins < 32) Thread.onSpinWait();
            else if (spins < 2000) Thread.yield();
            else LockSupport.parkNanos(100_000);
        }
    }

    /** Frees the native memory, unless requests are still pending (a failed wait): MPI may still write there, so it leaks. */
    @Override
    public void close() {
        if (count == 0) arena.close();
    }
}
