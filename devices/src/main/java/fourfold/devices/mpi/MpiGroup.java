package fourfold.devices.mpi;

import fourfold.devices.Bytes;
import fourfold.devices.Device;
import fourfold.devices.DeviceMemory;
import fourfold.devices.LinkSpec;
import fourfold.devices.MemoryTag;
import fourfold.devices.SimClock;
import fourfold.devices.comm.AsyncHandle;
import fourfold.devices.comm.CommHandle;
import fourfold.devices.comm.CommKind;
import fourfold.devices.comm.GroupChecks;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.Reduce;
import fourfold.devices.comm.ReduceOp;
import fourfold.devices.comm.RunControl;
import fourfold.devices.trace.Lane;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;

/**
 * A {@link ProcessGroup} whose members are MPI processes: one communicator per mesh group
 * (MPI_Comm_split), a second one (MPI_Comm_dup) for point-to-point, so that user tags never meet
 * collective traffic.
 *
 * <p>The collectives are NOT MPI's own: they run the in-process implementation's algorithms over
 * MPI_Isend / MPI_Irecv, step by step and in the same order (ring reduce-scatter whose chunk k is
 * summed x[k+1] + x[k+2] + ... + x[k], ring all-gather, chain broadcast, pairwise all-to-all),
 * so results are bitwise those of the in-process run, on any number of processes and hosts.
 * MPI's MPI_Allreduce does not specify its summation order. Each message carries the sender's
 * simulated time (a small second message of the same tag), so the simulated clock, the byte
 * accounting and the trace are those of the in-process run too.
 *
 * <p>Tags: a collective's tag is its call number on the group (mod 32768): the driver's blocking
 * collectives and the comm stream's async ones may be in flight at once on one communicator and
 * never take each other's messages. Every wait polls with the run's collective timeout.
 */
final class MpiGroup implements ProcessGroup {
    private static final long TIME_BYTES = 2 * Double.BYTES;

    private final MpiNetwork net;
    private final Mpi mpi;
    private final String name;
    private final int[] members;
    private final int rank;
    private final int global;
    private final Device device;
    private final MemorySegment comm;
    private final MemorySegment p2p;
    private final MemberAddresses at;
    private final PendingSends pending;
    private long nextSeq; // driver thread only

    MpiGroup(MpiNetwork net, String name, int[] members, int rank, Device device, MpiNetwork.Comms comms) {
        this.net = net;
        this.mpi = net.mpi();
        this.name = name;
        this.members = members.clone();
        this.rank = rank;
        this.global = members[rank];
        this.device = device;
        this.comm = comms.collectives();
        this.p2p = comms.pointToPoint();
        this.at = comms.addresses();
        this.pending = net.pendingSends(global);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return members.length;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int[] globalRanks() {
        return members.clone();
    }

    @Override
    public Device device() {
        return device;
    }

    private int mod(int a) {
        int n = size();
        return ((a % n) + n) % n;
    }

    private LinkSpec link(int fromMember, int toMember) {
        return net.topology().link(members[fromMember], members[toMember]);
    }

    private Chunk chunk(long count, int k) {
        return ProcessGroup.chunk(count, size(), k);
    }

    private static MemorySegment floats(MemorySegment seg, long startFloats, long lengthFloats) {
        return seg.asSlice(startFloats * Float.BYTES, lengthFloats * Float.BYTES);
    }

    // ---- collectives ------------------------------------------------------------------------

    @Override
    public void allReduce(MemorySegment buf, ReduceOp op) {
        Objects.requireNonNull(op, "allReduce: reduce op");
        long count = GroupChecks.floats(this, "allReduce", buf, "buffer");
        if (size() == 1) return;
        runSync(allReducePlan(buf, op, count));
    }

    @Override
    public CommHandle allReduceAsync(MemorySegment buf, ReduceOp op) {
        Objects.requireNonNull(op, "allReduceAsync: reduce op");
        long count = GroupChecks.floats(this, "allReduce", buf, "buffer");
        if (size() == 1) return CommHandle.completed();
        return runAsync(allReducePlan(buf, op, count));
    }

    private Plan allReducePlan(MemorySegment buf, ReduceOp op, long count) {
        long ownAt = chunk(count, rank).start() * Float.BYTES;
        return new Plan(CommKind.ALL_REDUCE, count, true, x -> {
            x.reduceScatterRing(buf, buf, ownAt, op);
            x.freeStaging();
            x.allGatherRing(buf, ownAt, buf);
        });
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
        long count = GroupChecks.floats(this, "reduceScatter", input, "input");
        long outCount = GroupChecks.floats(this, "reduceScatter", output, "output");
        GroupChecks.reduceScatterOutput(this, count, outCount);
        if (size() == 1) {
            GroupChecks.copyIfDistinct(input, output);
            return null;
        }
        return new Plan(CommKind.REDUCE_SCATTER, count, true, x -> x.reduceScatterRing(input, output, 0, op));
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
        long inCount = GroupChecks.floats(this, "allGather", input, "input");
        long count = GroupChecks.floats(this, "allGather", output, "output");
        GroupChecks.allGatherInput(this, inCount, count);
        if (size() == 1) {
            GroupChecks.copyIfDistinct(input, output);
            return null;
        }
        Chunk mine = chunk(count, rank);
        return new Plan(CommKind.ALL_GATHER, count, false, x -> {
            GroupChecks.copyIfDistinct(input, floats(output, mine.start(), mine.length()));
            x.allGatherRing(input, 0, output);
        });
    }

    @Override
    public void broadcast(MemorySegment buf, int root) {
        long count = GroupChecks.floats(this, "broadcast", buf, "buffer");
        GroupChecks.broadcastRoot(this, root);
        if (size() == 1) return;
        runSync(new Plan(CommKind.BROADCAST, count, false, x -> x.broadcastChain(buf, root)));
    }

    @Override
    public void allToAll(MemorySegment input, MemorySegment output) {
        long count = GroupChecks.floats(this, "allToAll", input, "input");
        long outCount = GroupChecks.floats(this, "allToAll", output, "output");
        GroupChecks.allToAll(this, input, output, count, outCount);
        if (size() == 1) {
            GroupChecks.copyIfDistinct(input, output);
            return;
        }
        runSync(new Plan(CommKind.ALL_TO_ALL, count, false, x -> x.allToAllPairwise(input, output)));
    }

    @Override
    public void barrier() {
        if (size() == 1) return;
        runSync(new Plan(CommKind.BARRIER, 0, false, Exchange::barrier));
    }

    // ---- point-to-point ---------------------------------------------------------------------

    /**
     * Eager, as in process: the message (data, then the send time) is copied into a staging block
     * of this rank's memory and handed to MPI_Isend; the block is freed once MPI is done with it.
     */
    @Override
    public void send(MemorySegment buf, int dst, int tag) {
        long count = GroupChecks.floats(this, "send", buf, "buffer");
        GroupChecks.peer(this, "send", "dst", dst);
        checkTag("send", tag);
        String where = "send on group " + name();
        RunControl run = net.run(where);
        long bytes = count * Float.BYTES;
        DeviceMemory.Block block = device.memory().allocate(bytes + Double.BYTES, MemoryTag.COMM,
                "message " + name() + " " + global + "->" + members[dst] + " tag " + tag);
        MemorySegment msg = block.segment().asSlice(0, bytes + Double.BYTES);
        MemorySegment.copy(buf, 0, msg, 0, bytes);
        msg.set(ValueLayout.JAVA_DOUBLE_UNALIGNED, bytes, device.clock().now());
        pending.add(mpi, run, msg, at.rank(dst), at.pointToPointTag(tag, rank, dst), p2p, block, where);
        if (dst == rank) return;
        net.stats().record(global, name(), CommKind.SEND_RECV, bytes, 0);
        if (net.trace().enabled()) { // a mark, as in process: the link time is on the receiver's span
            double now = device.clock().now();
            net.trace().span(global, Lane.COMM, "send " + name() + " to " + members[dst] + " tag " + tag + " " + Bytes.format(bytes),
                    now, now, System.nanoTime(), System.nanoTime(), Map.of("bytes", bytes, "tag", tag));
        }
    }

    @Override
    public void recv(MemorySegment buf, int src, int tag) {
        long count = GroupChecks.floats(this, "recv", buf, "buffer");
        GroupChecks.peer(this, "recv", "src", src);
        checkTag("recv", tag);
        receive(buf, count, src, tag, device.clock().now());
    }

    /**
     * Posted now, received at {@link CommHandle#await()}, as in process: the message's arrival
     * counts from max(send time, time posted). MPI matches messages of one (source, tag) in the
     * order the receives are posted, and the awaits post them, so the match is the in-process one
     * as long as the awaits come in the order the in-process mailbox serves them.
     */
    @Override
    public CommHandle irecv(MemorySegment buf, int src, int tag) {
        long count = GroupChecks.floats(this, "recv", buf, "buffer");
        GroupChecks.peer(this, "recv", "src", src);
        checkTag("recv", tag);
        double posted = device.clock().now();
        return CommHandle.onAwait(() -> receive(buf, count, src, tag, posted));
    }

    private void receive(MemorySegment buf, long count, int src, int tag, double posted) {
        int from = members[src];
        String where = "recv on group " + name() + " (rank " + global + " from rank " + from + ", tag " + tag + ")";
        RunControl run = net.run(where);
        long wallStart = System.nanoTime();
        long bytes = count * Float.BYTES;
        double sendTime;
        // One byte more than expected, so that a longer message is seen as such rather than truncated.
        try (DeviceMemory.Block block = device.memory().allocate(bytes + Double.BYTES + 1, MemoryTag.COMM,
                "receive " + name() + " " + from + "->" + global + " tag " + tag);
             Requests req = new Requests(mpi, run, 1)) {
            MemorySegment msg = block.segment().asSlice(0, bytes + Double.BYTES + 1);
            int got = req.recvCounting(msg, at.rank(src), at.pointToPointTag(tag, src, rank), p2p, where,
                    () -> where + ": no message after " + run.timeoutText() + "; rank " + from + " never sent it");
            if (got != bytes + Double.BYTES) {
                throw new IllegalArgumentException(where + ": the message holds " + (got - Double.BYTES) / Float.BYTES
                        + (got > bytes + Double.BYTES ? " or more" : "") + " floats but the receive buffer holds " + count
                        + "; send and recv must use the same length");
            }
            MemorySegment.copy(msg, 0, buf, 0, bytes);
            sendTime = msg.get(ValueLayout.JAVA_DOUBLE_UNALIGNED, bytes);
        }
        if (src == rank) return;
        SimClock clock = device.clock();
        double begin = Math.max(sendTime, posted);
        double end = begin + net.topology().link(from, global).time(bytes);
        clock.advanceTo(end);
        net.stats().record(global, name(), CommKind.SEND_RECV, 0, bytes);
        if (net.trace().enabled()) net.trace().span(global, Lane.COMM, "recv " + name() + " from " + from + " tag " + tag + " " + Bytes.format(bytes),
                begin, end, wallStart, System.nanoTime(), Map.of("bytes", bytes, "tag", tag));
    }

    private void checkTag(String op, int tag) {
        if (tag < 0 || tag > Mpi.TAG_LIMIT) {
            throw new IllegalArgumentException(op + " on group " + name() + ": tag " + tag + " is outside [0, " + Mpi.TAG_LIMIT
                    + "], the range every MPI implementation accepts");
        }
    }

    // ---- execution --------------------------------------------------------------------------

    /** One collective as this member runs it. {@code staging}: it needs the reduce-scatter's receive slots. */
    private record Plan(CommKind kind, long count, boolean staging, Body body) {}

    @FunctionalInterface
    private interface Body {
        void run(Exchange x);
    }

    private void runSync(Plan p) {
        long seq = nextSeq++;
        SimClock clock = device.clock();
        double end = execute(seq, p, clock.now(), Lane.COMM);
        clock.advanceTo(end);
    }

    private CommHandle runAsync(Plan p) {
        long seq = nextSeq++; // numbered in program order, on the driver thread
        String label = label(p, seq);
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

    private String label(Plan p, long seq) {
        return p.kind.label() + " #" + seq + " on group " + name() + " " + Arrays.toString(members);
    }

    /** Runs collective {@code seq}, then records bytes and a trace span as the in-process group does; returns the end time. */
    private double execute(long seq, Plan p, double start, Lane lane) {
        String label = label(p, seq);
        RunControl run = net.run(label);
        run.checkAborted(label);
        long wallStart = System.nanoTime();
        try (Exchange x = new Exchange(this, run, label, seq, p.count, start)) {
            if (p.staging && p.count > 0) x.allocateStaging(net.sliceFloats());
            if (p.count > 0 || p.kind == CommKind.BARRIER) p.body.run(x);
            x.freeStaging();
            net.stats().record(global, name(), p.kind, x.sent, x.received);
            if (net.trace().enabled()) net.trace().span(global, lane, p.kind.label() + " " + name() + " " + Bytes.format(p.count * Float.BYTES),
                    start, x.time, wallStart, System.nanoTime(),
                    Map.of("group", name(), "count", p.count, "bytes sent", x.sent, "bytes received", x.received));
            return x.time;
        }
    }

    /**
     * One member's run of one collective over MPI: the same steps, data and simulated times as
     * the in-process {@code Collective}, with every step a lock-step exchange with the ring
     * neighbours (post the receive, post the send, wait for both).
     */
    private static final class Exchange implements AutoCloseable {
        private final MpiGroup g;
        private final String label;
        private final long seq;
        private final long count;
        private final int i;
        private final int n;
        private final Requests req;
        private final MemorySegment timeOut;
        private final MemorySegment timeIn;
        private DeviceMemory.Block staging;
        private long slotFloats;
        double time;
        long sent;
        long received;

        Exchange(MpiGroup g, RunControl run, String label, long seq, long count, double start) {
            this.g = g;
            this.label = label;
            this.seq = seq;
            this.count = count;
            this.i = g.rank;
            this.n = g.size();
            this.req = new Requests(g.mpi, run, 4 * n);
            this.timeOut = req.scratch(TIME_BYTES);
            this.timeIn = req.scratch(TIME_BYTES * n);
            this.time = start;
        }

        /** The same staging block as in process (4 slots of one slice), so device memory peaks match; two slots are used. */
        void allocateStaging(long sliceFloats) {
            slotFloats = Math.min(sliceFloats, g.chunk(count, 0).length());
            staging = g.device.memory().allocate(4 * slotFloats * Float.BYTES, MemoryTag.COMM, label + " staging on rank " + g.global);
        }

        void freeStaging() {
            if (staging != null) {
                staging.close();
                staging = null;
            }
        }

        private MemorySegment slot(int k, long lenFloats) {
            return staging.segment().asSlice(k * slotFloats * Float.BYTES, lenFloats * Float.BYTES);
        }

        private long slices(long length) {
            return length == 0 ? 1 : (length + slotFloats - 1) / slotFloats;
        }

        private long sliceStart(long length, long j) {
            return Math.min(length, j * slotFloats);
        }

        private long sliceLength(long length, long j) {
            return Math.max(0, Math.min(slotFloats, length - j * slotFloats));
        }

        /** Posts the receive of a message from member {@code from}. */
        private void recv(MemorySegment buf, int from) {
            req.recv(buf, g.at.rank(from), g.at.collectiveTag(seq, from, i), g.comm);
        }

        /** Posts the send of a message to member {@code to}. */
        private void send(MemorySegment buf, int to) {
            req.send(buf, g.at.rank(to), g.at.collectiveTag(seq, i, to), g.comm);
        }

        private void sendTimes(int peer, double t0, double t1) {
            timeOut.set(ValueLayout.JAVA_DOUBLE, 0, t0);
            timeOut.set(ValueLayout.JAVA_DOUBLE, Double.BYTES, t1);
            send(timeOut, peer);
        }

        private MemorySegment timeSlot(int k) {
            return timeIn.asSlice(k * TIME_BYTES, TIME_BYTES);
        }

        private double receivedTime(int k, int which) {
            return timeIn.get(ValueLayout.JAVA_DOUBLE, k * TIME_BYTES + which * Double.BYTES);
        }

        private void await(String what, int peer) {
            req.await(label, () -> label + ": rank " + g.global + " waited " + g.net.run(label).timeoutText() + " for "
                    + (peer >= 0 ? "rank " + g.members[peer] : "the other members") + " " + what
                    + " (its process is gone, stuck, or called collectives in another order)");
        }

        /** When a message of {@code bytes} sent at {@code sendTime} over {@code link} has arrived here. */
        private double arrive(double sendTime, long bytes, LinkSpec link) {
            return Math.max(sendTime, time) + link.time(bytes);
        }

        /**
         * Ring reduce-scatter in rounds of one slice per chunk, as in process: at step s this
         * member sends its partial sum of chunk i-s-1 and receives chunk i-s-2 from i-1, which it
         * adds to its own values (in the receive slot) and sends at step s+1.
         */
        void reduceScatterRing(MemorySegment src, MemorySegment dst, long dstOffset, ReduceOp reduce) {
            int nx = g.mod(i + 1);
            int pv = g.mod(i - 1);
            LinkSpec inLink = g.link(pv, i);
            long rounds = slices(g.chunk(count, 0).length());
            double predTime = 0;
            for (long r = 0; r < rounds; r++) {
                int inSlot = 0;
                for (int s = 0; s < n - 1; s++) {
                    Chunk c = g.chunk(count, g.mod(i - s - 1));
                    long off = sliceStart(c.length(), r);
                    long len = sliceLength(c.length(), r);
                    MemorySegment out;
                    if (s == 0) {
                        out = floats(src, c.start() + off, len);
                    } else { // (partial received from i-1) + (my values), in the receive slot, which is then sent on
                        if (r == 0) time = arrive(predTime, c.length() * Float.BYTES, inLink);
                        out = slot(inSlot, len);
                        Reduce.combine(reduce, false, n, src, (c.start() + off) * Float.BYTES, out, 0, out, 0, len);
                    }
                    Chunk in = g.chunk(count, g.mod(i - s - 2));
                    inSlot = 1 - inSlot;
                    long inLen = sliceLength(in.length(), r);
                    recv(slot(inSlot, inLen), pv);
                    if (r == 0) recv(timeSlot(0), pv);
                    send(out, nx);
                    if (r == 0) sendTimes(nx, time, 0);
                    await("to send its data", pv);
                    if (r == 0) predTime = receivedTime(0, 0);
                    sent += len * Float.BYTES;
                    received += inLen * Float.BYTES;
                }
                // My own chunk has arrived with everyone else's contribution.
                Chunk c = g.chunk(count, i);
                long off = sliceStart(c.length(), r);
                long len = sliceLength(c.length(), r);
                if (r == 0) time = arrive(predTime, c.length() * Float.BYTES, inLink);
                Reduce.combine(reduce, true, n, src, (c.start() + off) * Float.BYTES, slot(inSlot, len), 0,
                        dst, dstOffset + off * Float.BYTES, len);
            }
        }

        /** Ring all-gather: step t sends chunk i-t (step 0 from {@code own}) and receives chunk i-t-1 straight into {@code out}. */
        void allGatherRing(MemorySegment own, long ownOffset, MemorySegment out) {
            int nx = g.mod(i + 1);
            int pv = g.mod(i - 1);
            LinkSpec inLink = g.link(pv, i);
            double predTime = 0;
            for (int t = 0; t < n - 1; t++) {
                Chunk c = g.chunk(count, g.mod(i - t));
                if (t > 0) time = arrive(predTime, c.length() * Float.BYTES, inLink);
                MemorySegment data = t == 0 ? own.asSlice(ownOffset, c.length() * Float.BYTES) : floats(out, c.start(), c.length());
                Chunk in = g.chunk(count, g.mod(i - t - 1));
                recv(floats(out, in.start(), in.length()), pv);
                recv(timeSlot(0), pv);
                send(data, nx);
                sendTimes(nx, time, 0);
                await("to send its data", pv);
                predTime = receivedTime(0, 0);
                sent += c.length() * Float.BYTES;
                received += in.length() * Float.BYTES;
            }
            // Last step: chunk i+1, which my successor started with, has arrived.
            time = arrive(predTime, g.chunk(count, g.mod(i + 1)).length() * Float.BYTES, inLink);
        }

        /**
         * Chain from {@code root} along the ring. Time as in process: start_d = max(start_{d-1},
         * ready_d) + latency, done_d = max(done_{d-1} + latency, start_d + bytes / bandwidth).
         */
        void broadcastChain(MemorySegment buf, int root) {
            long bytes = count * Float.BYTES;
            int d = g.mod(i - root);
            int nx = g.mod(i + 1);
            int pv = g.mod(i - 1);
            double start = time;
            double done = time;
            if (d > 0) {
                recv(buf, pv);
                recv(timeSlot(0), pv);
                await("to send its data", pv);
                LinkSpec l = g.link(pv, i);
                start = Math.max(receivedTime(0, 0), time) + l.latency();
                done = Math.max(receivedTime(0, 1) + l.latency(), start + bytes / l.bandwidth());
                time = done;
                received += bytes;
            }
            if (d < n - 1) {
                send(buf, nx);
                sendTimes(nx, start, done);
                await("to receive the data", nx);
                sent += bytes;
            }
        }

        /** Pairwise exchange: chunk j of my input to member j, chunk i of my output from each member; time as in process. */
        void allToAllPairwise(MemorySegment input, MemorySegment output) {
            long chunkFloats = count / n;
            MemorySegment.copy(input, i * chunkFloats * Float.BYTES, output, i * chunkFloats * Float.BYTES, chunkFloats * Float.BYTES);
            timeOut.set(ValueLayout.JAVA_DOUBLE, 0, time);
            for (int s = 1; s < n; s++) {
                int src = g.mod(i - s);
                recv(floats(output, src * chunkFloats, chunkFloats), src);
                recv(timeSlot(s), src);
            }
            for (int s = 1; s < n; s++) {
                int dst = g.mod(i + s);
                send(floats(input, dst * chunkFloats, chunkFloats), dst);
                send(timeOut, dst);
            }
            await("to exchange its chunk", -1);
            double t = time;
            for (int s = 1; s < n; s++) {
                int src = g.mod(i - s);
                t = Math.max(t, receivedTime(s, 0)) + g.link(src, i).time(chunkFloats * Float.BYTES);
            }
            time = t;
            sent += (n - 1) * chunkFloats * Float.BYTES;
            received += (n - 1) * chunkFloats * Float.BYTES;
        }

        /** Every member's start time to every other; costs what a 0-byte ring all-reduce costs after the last arrival. */
        void barrier() {
            timeOut.set(ValueLayout.JAVA_DOUBLE, 0, time);
            for (int j = 0; j < n; j++) if (j != i) recv(timeSlot(j), j);
            for (int j = 0; j < n; j++) if (j != i) send(timeOut, j);
            await("to join", -1);
            double latest = time;
            double latency = 0;
            for (int j = 0; j < n; j++) {
                if (j != i) latest = Math.max(latest, receivedTime(j, 0));
                latency = Math.max(latency, g.link(j, g.mod(j + 1)).latency());
            }
            time = latest + 2.0 * (n - 1) * latency;
        }

        @Override
        public void close() {
            req.close();
        }
    }

    @Override
    public String toString() {
        return "MPI group " + name() + " " + Arrays.toString(members) + " (rank " + global + " is member " + rank + ")";
    }
}
