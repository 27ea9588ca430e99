package fourfold.devices.mpi;

import fourfold.devices.DeviceMemory;
import fourfold.devices.comm.RunControl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * One rank's eager sends that MPI has not finished yet: each holds its message copy (a block of
 * device memory) until MPI_Test says the send is done. Completed ones are reaped at every new
 * send; {@link #drain} waits for the rest at the end of the rank's program.
 */
final class PendingSends {
    private record Send(Arena arena, MemorySegment handle, MemorySegment flag, DeviceMemory.Block block, String where) {}

    private final ArrayDeque<Send> sends = new ArrayDeque<>();

    synchronized void add(Mpi mpi, RunControl run, MemorySegment msg, int dst, int tag, MemorySegment comm, DeviceMemory.Block block, String where) {
        reap(mpi);
        Arena arena = Arena.ofShared();
        MemorySegment handle = arena.allocate(ValueLayout.ADDRESS);
        MemorySegment flag = arena.allocate(ValueLayout.JAVA_INT);
        try {
            mpi.isend(msg, Math.toIntExact(msg.byteSize()), dst, tag, comm, handle);
        } catch (RuntimeException e) {
            block.close();
            arena.close();
            throw e;
        }
        sends.add(new Send(arena, handle, flag, block, where));
    }

    private void reap(Mpi mpi) {
        for (Iterator<Send> it = sends.iterator(); it.hasNext(); ) {
            Send s = it.next();
            if (!mpi.test(s.handle, s.flag, MemorySegment.NULL)) continue;
            s.block.close();
            s.arena.close();
            it.remove();
        }
    }

    /** Waits (with the run's timeout) until every send has left this rank's memory. */
    synchronized void drain(Mpi mpi, RunControl run) {
        while (!sends.isEmpty()) {
            Send s = sends.peek();
            Requests.poll(run, () -> mpi.test(s.handle, s.flag, MemorySegment.NULL), s.where,
                    () -> s.where + ": the receiver did not take the message within " + run.timeoutText());
            s.block.close();
            s.arena.close();
            sends.remove();
        }
    }
}
