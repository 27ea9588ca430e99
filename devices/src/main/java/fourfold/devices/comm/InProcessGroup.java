package fourfold.devices.comm;

import fourfold.devices.Bytes;
import fourfold.devices.Device;
import fourfold.devices.DeviceMemory;
import fourfold.devices.LinkSpec;
import fourfold.devices.MemoryTag;
import fourfold.devices.SimClock;
import fourfold.devices.trace.Lane;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;

/**
 * The in-process {@link ProcessGroup}: members are threads of one JVM, buffers live in the
 * members' device arenas and collectives copy between them (see {@link Collective}). One instance
 * per member; the members of a group share one {@link GroupState}.
 *
 * <p>Blocking collectives run on the calling (driver) thread and advance the compute lane of the
 * simulated clock to their end. Async ones run on the rank's {@link CommStream} and occupy the
 * comm lane; {@link CommHandle#await()} joins the lanes.
 */
public final class InProcessGroup implements ProcessGroup {
    private final Interconnect net;
    private final GroupState state;
    private final int rank;
    private final int global;
    private final Device device;

    InProcessGroup(Interconnect net, GroupState state, int rank, int global, Device device) {
        this.net = net;
        this.state = state;
        this.rank = rank;
        this.global = global;
        this.device = device;
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return state.size();
    }

    @Override
    public String name() {
        return state.name;
    }

    @Override
    public int[] globalRanks() {
        return state.members.clone();
    }

    int globalRank(int member) {
        return state.members[member];
    }

    @Override
    public Device device() {
        return device;
    }

    LinkSpec link(int fromMember, int toMember) {
        return net.topology().link(state.members[fromMember], state.members[toMember]);
    }

    // ---- collectives ------------------------------------------------------------------------

    @Override
    public void allReduce(MemorySegment buf, ReduceOp op) {
        Objects.requireNonNull(op, "allReduce: reduce op");
        long count = floats("allReduce", buf, "buffer");
        if (size() == 1) return;
        runSync(allReducePlan(buf, op, count));
    }

    @Override
    public CommHandle allReduceAsync(MemorySegment buf, ReduceOp op) {
        Objects.requireNonNull(op, "allReduceAsync: reduce op");
        long count = floats("allReduce", buf, "buffer");
        if (size() == 1) return CommHandle.completed();
        return runAsync(allReducePlan(buf, op, count));
    }

    private Plan allReducePlan(MemorySegment buf, ReduceOp op, long count) {
        OpDesc desc = new OpDesc(CommKind.ALL_REDUCE, count, op, -1);
        CollectiveAlgorithm algorithm = net.algorithms().allReduce(count * Float.BYTES);
        return switch (algorithm) {
            case ONE_SHOT -> new Plan(desc, algorithm, buf, true, true, c -> new DirectCollective(c).allReduceOneShot(buf, op));
            case TWO_SHOT -> new Plan(desc, algorithm, buf, true, true, c -> new DirectCollective(c).allReduceTwoShot(buf, op));
            default -> {
                long ownAt = ProcessGroup.chunk(count, size(), rank).start() * Float.BYTES;
                yield new Plan(desc, algorithm, buf, true, false, c -> {
                    c.reduceScatterRing(buf, buf, ownAt, op);
                    c.me.freeStaging();
                    c.me.markReady(); // my predecessor may now overwrite the chunks I was reading
                    c.allGatherRing(buf, ownAt, buf, size() - 1);
                });
            }
        };
    }

    @Override
    public void reduceScatter(MemorySegment input, MemorySegment output, ReduceOp op) {
        Plan p = reduceScatterPlan(input, output, op);
        if (p != null) runSync(p);
    }

    @Override
    public CommHandle reduceScatterAsync(MemorySegment input, MemorySegment output, ReduceOp op) {
        Plan p = reduceScatterPlan(input, output, op);
        return p == null ? CommHandle.completed() : runAsync(p);
    }

    private Plan reduceScatterPlan(MemorySegment input, MemorySegment output, ReduceOp op) {
        Objects.requireNonNull(op, "reduceScatter: reduce op");
        long count = floats("reduceScatter", input, "input");
        long outCount = floats("reduceScatter", output, "output");
        GroupChecks.reduceScatterOutput(this, count, outCount);
        if (size() == 1) {
            copyIfDistinct(input, output);
            return null;
        }
        OpDesc desc = new OpDesc(CommKind.REDUCE_SCATTER, count, op, -1);
        CollectiveAlgorithm algorithm = net.algorithms().scatterOrGather(count * Float.BYTES);
        if (algorithm == CollectiveAlgorithm.DIRECT) {
            return new Plan(desc, algorithm, input, true, true, c -> new DirectCollective(c).reduceScatter(output, op));
        }
        return new Plan(desc, algorithm, null, true, true, c -> c.reduceScatterRing(input, output, 0, op));
    }

    @Override
    public void allGather(MemorySegment input, MemorySegment output) {
        Plan p = allGatherPlan(input, output);
        if (p != null) runSync(p);
    }

    @Override
    public CommHandle allGatherAsync(MemorySegment input, MemorySegment output) {
        Plan p = allGatherPlan(input, output);
        return p == null ? CommHandle.completed() : runAsync(p);
    }

    private Plan allGatherPlan(MemorySegment input, MemorySegment output) {
        long inCount = floats("allGather", input, "input");
        long count = floats("allGather", output, "output");
        Chunk mine = ProcessGroup.chunk(count, size(), rank);
        GroupChecks.allGatherInput(this, inCount, count);
        if (size() == 1) {
            copyIfDistinct(input, output);
            return null;
        }
        CollectiveAlgorithm algorithm = net.algorithms().scatterOrGather(count * Float.BYTES);
        boolean direct = algorithm == CollectiveAlgorithm.DIRECT;
        return new Plan(new OpDesc(CommKind.ALL_GATHER, count, null, -1), algorithm, output, false, true, c -> {
            MemorySegment slot = output.asSlice(mine.start() * Float.BYTES, mine.length() * Float.BYTES);
            copyIfDistinct(input, slot);
            if (direct) new DirectCollective(c).allGather(input);
            else c.allGatherRing(input, 0, output, 0);
        });
    }

    @Override
    public void broadcast(MemorySegment buf, int root) {
        long count = floats("broadcast", buf, "buffer");
        GroupChecks.broadcastRoot(this, root);
        if (size() == 1) return;
        runSync(new Plan(new OpDesc(CommKind.BROADCAST, count, null, root), CollectiveAlgorithm.CHAIN, buf, false, true, c -> c.broadcastChain(buf, root)));
    }

    @Override
    public void allToAll(MemorySegment input, MemorySegment output) {
        long count = floats("allToAll", input, "input");
        long outCount = floats("allToAll", output, "output");
        GroupChecks.allToAll(this, input, output, count, outCount);
        if (size() == 1) {
            copyIfDistinct(input, output);
            return;
        }
        runSync(new Plan(new OpDesc(CommKind.ALL_TO_ALL, count, null, -1), CollectiveAlgorithm.PAIRWISE, output, false, true, c -> c.allToAllPairwise(input, output)));
    }

    @Override
    public void barrier() {
        if (size() == 1) return;
        runSync(new Plan(new OpDesc(CommKind.BARRIER, 0, null, -1), CollectiveAlgorithm.ARRIVALS, null, false, true, Collective::barrier));
    }

    // ---- point-to-point ---------------------------------------------------------------------

    @Override
    public void send(MemorySegment buf, int dst, int tag) {
        long count = floats("send", buf, "buffer");
        checkPeer("send", "dst", dst);
        net.run("send on group " + name());
        int to = state.members[dst];
        long bytes = count * Float.BYTES;
        // Eager: the message waits in a staging block of the receiver's memory, so send never blocks.
        DeviceMemory.Block block = net.device(to).memory().allocate(bytes, MemoryTag.COMM,
                "message " + name() + " " + global + "->" + to + " tag " + tag);
        MemorySegment.copy(buf, 0, block.segment(), 0, bytes);
        state.mailbox(rank, dst).put(new Mailbox.Message(tag, block, count, device.clock().now()));
        if (dst == rank) return;
        net.stats().record(global, name(), CommKind.SEND_RECV, bytes, 0);
        if (net.trace().enabled()) {
            double now = device.clock().now();
            net.trace().span(global, Lane.COMM, "send " + name() + " to " + to + " tag " + tag + " " + Bytes.format(bytes),
                    now, now, System.nanoTime(), System.nanoTime(), Map.of("bytes", bytes, "tag", tag));
        }
    }

    /** A blocking receive: {@link #irecv} posted and awaited at once. */
    @Override
    public void recv(MemorySegment buf, int src, int tag) {
        irecv(buf, src, tag).await();
    }

    /**
     * The message arrives at max(send time, time posted) + latency + bytes / bandwidth of the link
     * it crosses; awaiting moves the compute lane to that time. The sender's clock does not move
     * (an eager isend whose completion nobody waits for).
     */
    @Override
    public CommHandle irecv(MemorySegment buf, int src, int tag) {
        long count = floats("recv", buf, "buffer");
        checkPeer("recv", "src", src);
        double posted = device.clock().now();
        return CommHandle.onAwait(() -> receive(buf, count, src, tag, posted));
    }

    private void receive(MemorySegment buf, long count, int src, int tag, double posted) {
        int from = state.members[src];
        String where = "recv on group " + name() + " (rank " + global + " from rank " + from + ", tag " + tag + ")";
        RunControl run = net.run(where);
        long wallStart = System.nanoTime();
        Mailbox.Message m = state.mailbox(src, rank).take(tag, run,
                () -> where + ": no message after " + run.timeoutText() + "; rank " + from + " never sent it", where);
        try {
            if (m.floats() != count) {
                throw new IllegalArgumentException(where + ": the message holds " + m.floats() + " floats but the receive buffer holds "
                        + count + "; send and recv must use the same length");
            }
            MemorySegment.copy(m.block().segment(), 0, buf, 0, count * Float.BYTES);
        } finally {
            m.block().close();
        }
        if (src == rank) return;
        long bytes = count * Float.BYTES;
        SimClock clock = device.clock();
        double begin = Math.max(m.sendTime(), posted);
        double end = begin + net.topology().link(from, global).time(bytes);
        clock.advanceTo(end);
        net.stats().record(global, name(), CommKind.SEND_RECV, 0, bytes);
        if (net.trace().enabled()) net.trace().span(global, Lane.COMM, "recv " + name() + " from " + from + " tag " + tag + " " + Bytes.format(bytes),
                begin, end, wallStart, System.nanoTime(), Map.of("bytes", bytes, "tag", tag));
    }

    // ---- execution --------------------------------------------------------------------------

    /**
     * One collective as this member will run it: what it asks for, which algorithm moves the bytes,
     * what peers write into (or, for the direct algorithms, read from), the data movement.
     */
    private record Plan(OpDesc desc, CollectiveAlgorithm algorithm, MemorySegment target, boolean staging, boolean readyAtArrival, Body body) {}

    @FunctionalInterface
    private interface Body {
        void run(Collective c);
    }

    private void runSync(Plan p) {
        long seq = state.nextSeq(rank);
        SimClock clock = device.clock();
        double end = execute(seq, p, clock.now(), Lane.COMM);
        clock.advanceTo(end);
    }

    private CommHandle runAsync(Plan p) {
        long seq = state.nextSeq(rank); // numbered in program order, on the driver thread
        String label = label(p.desc, seq);
        RunControl run = net.run(label);
        SimClock clock = device.clock();
        double issued = clock.now();
        AsyncHandle handle = new AsyncHandle(clock, run, label);
        net.stream(global).submit(() -> {
            try {
                run.checkAborted(label);
                double start = Math.max(issued, clock.commLaneFree());
                double end = execute(seq, p, start, Lane.COMM_ASYNC);
                clock.occupyCommUntil(end);
                handle.complete(end);
            } catch (Throwable t) {
                run.fail(global, t);
                handle.fail(t);
            }
        });
        return handle;
    }

    private String label(OpDesc desc, long seq) {
        return desc.kind().label() + " #" + seq + " on group " + name() + " " + Arrays.toString(state.members);
    }

    /**
     * Joins collective {@code seq}, publishes this member's buffers, moves the data, then records
     * bytes and a trace span. Returns this member's simulated end time. On failure the staging
     * block stays allocated (a peer may still be writing into it) until the run's clean-up.
     */
    private double execute(long seq, Plan p, double start, Lane lane) {
        String label = label(p.desc, seq);
        RunControl run = net.run(label);
        run.checkAborted(label);
        long wallStart = System.nanoTime();
        Op op = state.join(seq, p.desc, rank);
        Collective c = new Collective(this, op, run, start, label, net.sliceFloats());
        long count = p.desc.count();
        DeviceMemory.Block staging = null;
        long slotFloats = 0;
        if (p.staging && count > 0) {
            slotFloats = Math.min(net.sliceFloats(), ProcessGroup.chunk(count, size(), 0).length());
            staging = device.memory().allocate(Interconnect.SLOTS * slotFloats * Float.BYTES, MemoryTag.COMM,
                    label + " staging on rank " + global);
        }
        c.me.arrive(p.target, staging, Interconnect.SLOTS, slotFloats * Float.BYTES, start, p.readyAtArrival);
        if (count > 0 || p.desc.kind() == CommKind.BARRIER) p.body.run(c);
        c.me.freeStaging();
        state.leave(op);
        net.stats().record(global, name(), p.desc.kind(), c.sent, c.received);
        if (net.trace().enabled()) net.trace().span(global, lane, p.desc.kind().label() + " " + name() + " " + Bytes.format(count * Float.BYTES),
                start, c.time, wallStart, System.nanoTime(),
                Map.of("group", name(), "count", count, "bytes sent", c.sent, "bytes received", c.received, "algorithm", p.algorithm.label()));
        return c.time;
    }

    // ---- checks -----------------------------------------------------------------------------

    private long floats(String op, MemorySegment seg, String role) {
        return GroupChecks.floats(this, op, seg, role);
    }

    private void checkPeer(String op, String role, int peer) {
        GroupChecks.peer(this, op, role, peer);
    }

    private static void copyIfDistinct(MemorySegment from, MemorySegment to) {
        GroupChecks.copyIfDistinct(from, to);
    }

    @Override
    public String toString() {
        return "group " + name() + " " + Arrays.toString(state.members) + " (rank " + global + " is member " + rank + ")";
    }
}
