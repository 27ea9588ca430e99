package fourfold.devices;

import fourfold.devices.comm.CommHandle;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.ReduceOp;

import java.lang.foreign.MemorySegment;
import java.util.function.Supplier;

/**
 * A rank's view of one of its groups that tells the rank's {@link KernelTimes} (when its thread
 * measures) how long it spends in communication calls: every collective, send and receive, and
 * every await of a handle. Async collectives themselves run on the comm stream and count only
 * where the driver waits for them. Costs one thread-local read per call when nothing measures.
 */
final class TimedGroup implements ProcessGroup {
    private final ProcessGroup group;

    TimedGroup(ProcessGroup group) {
        this.group = group;
    }

    private static <T> T timed(Supplier<T> call) {
        KernelTimes t = KernelTimes.current();
        if (t == null) return call.get();
        t.commBegin();
        try {
            return call.get();
        } finally {
            t.commEnd();
        }
    }

    private static void timed(Runnable call) {
        timed(() -> {
            call.run();
            return null;
        });
    }

    private static CommHandle timedHandle(Supplier<CommHandle> issue) {
        CommHandle h = timed(issue);
        return h == CommHandle.completed() ? h : new TimedHandle(h);
    }

    /** Its await counts as communication of the thread that awaits. */
    private record TimedHandle(CommHandle handle) implements CommHandle {
        @Override
        public void await() {
            timed(handle::await);
        }

        @Override
        public boolean isDone() {
            return handle.isDone();
        }
    }

    @Override
    public int rank() {
        return group.rank();
    }

    @Override
    public int size() {
        return group.size();
    }

    @Override
    public String name() {
        return group.name();
    }

    @Override
    public int[] globalRanks() {
        return group.globalRanks();
    }

    @Override
    public Device device() {
        return group.device();
    }

    @Override
    public void allReduce(MemorySegment buf, ReduceOp op) {
        timed(() -> group.allReduce(buf, op));
    }

    @Override
    public void reduceScatter(MemorySegment input, MemorySegment output, ReduceOp op) {
        timed(() -> group.reduceScatter(input, output, op));
    }

    @Override
    public void allGather(MemorySegment input, MemorySegment output) {
        timed(() -> group.allGather(input, output));
    }

    @Override
    public void broadcast(MemorySegment buf, int root) {
        timed(() -> group.broadcast(buf, root));
    }

    @Override
    public void send(MemorySegment buf, int dst, int tag) {
        timed(() -> group.send(buf, dst, tag));
    }

    @Override
    public void recv(MemorySegment buf, int src, int tag) {
        timed(() -> group.recv(buf, src, tag));
    }

    @Override
    public CommHandle isend(MemorySegment buf, int dst, int tag) {
        return timedHandle(() -> group.isend(buf, dst, tag));
    }

    @Override
    public CommHandle irecv(MemorySegment buf, int src, int tag) {
        return timedHandle(() -> group.irecv(buf, src, tag));
    }

    @Override
    public void allToAll(MemorySegment input, MemorySegment output) {
        timed(() -> group.allToAll(input, output));
    }

    @Override
    public void barrier() {
        timed(group::barrier);
    }

    @Override
    public CommHandle allReduceAsync(MemorySegment buf, ReduceOp op) {
        return timedHandle(() -> group.allReduceAsync(buf, op));
    }

    @Override
    public CommHandle reduceScatterAsync(MemorySegment input, MemorySegment output, ReduceOp op) {
        return timedHandle(() -> group.reduceScatterAsync(input, output, op));
    }

    @Override
    public CommHandle allGatherAsync(MemorySegment input, MemorySegment output) {
        return timedHandle(() -> group.allGatherAsync(input, output));
    }

    @Override
    public String toString() {
        return group.toString();
    }
}
