package fourfold.devices.comm;

import fourfold.devices.LinkSpec;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static fourfold.devices.comm.Endpoint.Signal.ARRIVED;
import static fourfold.devices.comm.Endpoint.Signal.CONSUMED;
import static fourfold.devices.comm.Endpoint.Signal.DIRECT;
import static fourfold.devices.comm.Endpoint.Signal.POSTED;
import static fourfold.devices.comm.Endpoint.Signal.READY;

/**
 * One member's execution of one collective: moves the bytes (ring steps, slice by slice) and
 * computes the member's simulated time from the step times its predecessor published.
 *
 * <p>Data and time are separate on purpose. Data moves in slices of at most {@code sliceFloats}
 * (so staging stays small and neighbours work in a pipeline); time follows the textbook ring: step
 * s of member r ends at {@code max(t[r-1][s], t[r][s]) + latency + chunkBytes / bandwidth} of the
 * link r-1 -> r, so a collective's simulated cost does not depend on the slice size.
 *
 * <p>Ring reduce-scatter (member i of n, chunk k, indices mod n): at step s member i sends its
 * partial sum of chunk i-s-1 to member i+1 and receives chunk i-s-2 from member i-1, which it adds
 * to its own values and forwards at the next step; after n-1 steps it holds the full reduction of
 * chunk i. Chunk k is therefore summed in the order x[k+1], x[k+2], ..., x[k], the same on every
 * run. Sends are fused with the reduction: the sum is written straight into the successor's
 * staging slot. Ring all-gather then passes every finished chunk around, written straight into the
 * successor's buffer.
 */
final class Collective {
    final RunControl run;
    final String label;
    final Endpoint me;
    final InProcessGroup group;
    final Op op;
    /** This member's index in the group, and the group's size. */
    final int i;
    final int n;
    private final long sliceFloats;
    /** This member's simulated time: its start, then the end of each step it has taken. */
    double time;
    /** Bytes this member moved over links (its own chunk, copied locally, is not counted). */
    long sent;
    long received;

    Collective(InProcessGroup group, Op op, RunControl run, double start, String label, long sliceFloats) {
        this.group = group;
        this.op = op;
        this.run = run;
        this.label = label;
        this.i = group.rank();
        this.n = group.size();
        this.me = op.ep[i];
        this.sliceFloats = sliceFloats;
        this.time = start;
    }

    private int mod(int a) {
        return ((a % n) + n) % n;
    }

    private LinkSpec link(int fromLocal, int toLocal) {
        return group.link(fromLocal, toLocal);
    }

    /** When a message of {@code bytes} sent at {@code sendTime} over {@code link} has arrived here. */
    private double arrive(double sendTime, long bytes, LinkSpec link) {
        return Math.max(sendTime, time) + link.time(bytes);
    }

    /** Number of slices a chunk of {@code length} floats moves in: at least one (an empty chunk still takes its ring step). */
    private long slices(long length) {
        return length == 0 ? 1 : (length + sliceFloats - 1) / sliceFloats;
    }

    /** Start (floats) of slice {@code j} of a chunk of {@code length}, clamped to its end. */
    private long sliceStart(long length, long j) {
        return Math.min(length, j * sliceFloats);
    }

    private long sliceLength(long length, long j) {
        return Math.max(0, Math.min(sliceFloats, length - j * sliceFloats));
    }

    private ProcessGroup.Chunk chunk(int k) {
        return ProcessGroup.chunk(op.desc.count(), n, k);
    }

    /**
     * Ring reduce-scatter of {@code src} (the full count); this member's reduced chunk is written
     * to {@code dst} at byte offset {@code dstOffset}. Uses step times [0, n-1).
     *
     * <p>The data moves in rounds, as NCCL does: round r carries slice r of every chunk through all
     * n-1 steps. Each step of a round consumes the slice received in the previous step, so two
     * staging slots per member are enough for the ring never to block on itself (with whole chunks
     * per step, every member would first have to buffer a whole chunk).
     */
    void reduceScatterRing(MemorySegment src, MemorySegment dst, long dstOffset, ReduceOp reduce) {
        int nx = mod(i + 1);
        int pv = mod(i - 1);
        Endpoint next = op.ep[nx];
        Endpoint from = op.ep[pv];
        LinkSpec inLink = link(pv, i);
        next.await(ARRIVED, 1, this, nx);
        int slots = next.slots();
        MemorySegment nextStaging = next.staging();
        MemorySegment myStaging = me.staging();
        long rounds = slices(chunk(0).length()); // chunk 0 is a longest chunk
        long in = 0;  // slices consumed from my staging
        long out = 0; // slices posted into next's staging
        for (long r = 0; r < rounds; r++) {
            for (int s = 0; s < n - 1; s++) {
                ProcessGroup.Chunk c = chunk(mod(i - s - 1));
                long off = sliceStart(c.length(), r);
                long len = sliceLength(c.length(), r);
                long srcAt = (c.start() + off) * Float.BYTES;
                if (s > 0) {
                    me.await(POSTED, in + 1, this, pv);
                    if (r == 0) time = arrive(from.stepTime[s - 1], c.length() * Float.BYTES, inLink);
                }
                if (r == 0) me.stepTime[s] = time;
                next.await(CONSUMED, out - slots + 1, this, nx); // a free slot in next's staging
                long slot = next.slotOffset(out);
                if (s == 0) {
                    MemorySegment.copy(src, srcAt, nextStaging, slot, len * Float.BYTES);
                } else { // fused: (partial received from i-1) + (my values) -> next's slot
                    Reduce.combine(reduce, false, n, src, srcAt, myStaging, me.slotOffset(in), nextStaging, slot, len);
                    me.consume();
                    in++;
                    received += len * Float.BYTES;
                }
                next.post();
                out++;
                sent += len * Float.BYTES;
            }
            // Last step of the round: my own chunk arrives with everyone else's contribution.
            ProcessGroup.Chunk c = chunk(i);
            long off = sliceStart(c.length(), r);
            long len = sliceLength(c.length(), r);
            me.await(POSTED, in + 1, this, pv);
            if (r == 0) time = arrive(from.stepTime[n - 2], c.length() * Float.BYTES, inLink);
            Reduce.combine(reduce, true, n, src, (c.start() + off) * Float.BYTES, myStaging, me.slotOffset(in),
                    dst, dstOffset + off * Float.BYTES, len);
            me.consume();
            in++;
            received += len * Float.BYTES;
        }
    }

    /**
     * Ring all-gather into {@code out} (the full count). Step 0 sends my chunk, read from
     * {@code own} at byte offset {@code ownOffset}; step t forwards the chunk received at step t-1.
     * Writes go straight into the successor's buffer once it is READY. Uses step times
     * [stepBase, stepBase + n - 1).
     */
    void allGatherRing(MemorySegment own, long ownOffset, MemorySegment out, int stepBase) {
        int nx = mod(i + 1);
        int pv = mod(i - 1);
        Endpoint next = op.ep[nx];
        Endpoint from = op.ep[pv];
        LinkSpec inLink = link(pv, i);
        next.await(READY, 1, this, nx);
        MemorySegment nextBuf = next.target();
        long in = 0; // slices received straight into my buffer
        for (int t = 0; t < n - 1; t++) {
            ProcessGroup.Chunk c = chunk(mod(i - t));
            long m = slices(c.length());
            if (t > 0) {
                me.await(DIRECT, in + 1, this, pv);
                time = arrive(from.stepTime[stepBase + t - 1], c.length() * Float.BYTES, inLink);
            }
            me.stepTime[stepBase + t] = time;
            for (long j = 0; j < m; j++) {
                long off = sliceStart(c.length(), j);
                long len = sliceLength(c.length(), j);
                long at = (c.start() + off) * Float.BYTES;
                if (t == 0) {
                    MemorySegment.copy(own, ownOffset + off * Float.BYTES, nextBuf, at, len * Float.BYTES);
                } else {
                    me.await(DIRECT, in + 1, this, pv);
                    in++;
                    received += len * Float.BYTES;
                    MemorySegment.copy(out, at, nextBuf, at, len * Float.BYTES);
                }
                next.directPost();
                sent += len * Float.BYTES;
            }
        }
        // Last step: chunk i+1, which my successor started with, arrives and is not forwarded.
        ProcessGroup.Chunk c = chunk(mod(i + 1));
        me.await(DIRECT, in + 1, this, pv);
        time = arrive(from.stepTime[stepBase + n - 2], c.length() * Float.BYTES, inLink);
        me.await(DIRECT, in + slices(c.length()), this, pv);
        received += c.length() * Float.BYTES;
    }

    /**
     * Pipelined chain from {@code root} along the ring, written straight into each successor's
     * buffer slice by slice. Time: the data streams, so the member d hops from the root starts
     * receiving d latencies after the root and has everything once the slowest link so far has
     * carried all bytes: start_d = max(start_{d-1}, ready_d) + latency, done_d = max(done_{d-1} +
     * latency, start_d + bytes / bandwidth).
     */
    void broadcastChain(MemorySegment buf, int root) {
        long count = op.desc.count();
        long bytes = count * Float.BYTES;
        int d = mod(i - root);
        boolean last = d == n - 1;
        int nx = mod(i + 1);
        int pv = mod(i - 1);
        Endpoint next = op.ep[nx];
        if (d == 0) {
            me.stepTime[1] = time; // the root has all data at its start
        } else {
            Endpoint from = op.ep[pv];
            me.await(DIRECT, 1, this, pv);
            LinkSpec l = link(pv, i);
            double start = Math.max(from.stepTime[0], time) + l.latency();
            double done = Math.max(from.stepTime[1] + l.latency(), start + bytes / l.bandwidth());
            me.stepTime[0] = start;
            me.stepTime[1] = done;
            time = done;
        }
        MemorySegment nextBuf = null;
        if (!last) {
            next.await(ARRIVED, 1, this, nx);
            nextBuf = next.target();
        }
        long m = slices(count);
        for (long j = 0; j < m; j++) {
            long at = sliceStart(count, j) * Float.BYTES;
            long len = sliceLength(count, j) * Float.BYTES;
            if (d > 0) {
                me.await(DIRECT, j + 1, this, pv);
                received += len;
            }
            if (!last) {
                MemorySegment.copy(buf, at, nextBuf, at, len);
                next.directPost();
                sent += len;
            }
        }
    }

    /**
     * Each member writes chunk j of its input straight into chunk i of member j's output, peers in
     * the order i+1, i+2, ... Time: the pairwise-exchange schedule, whose step s brings chunk i from
     * member i-s: t_s = max(t_{s-1}, start of i-s) + latency + chunkBytes / bandwidth.
     */
    void allToAllPairwise(MemorySegment input, MemorySegment output) {
        long chunkBytes = op.desc.count() / n * Float.BYTES;
        MemorySegment.copy(input, i * chunkBytes, output, i * chunkBytes, chunkBytes);
        for (int s = 1; s < n; s++) {
            int dst = mod(i + s);
            Endpoint peer = op.ep[dst];
            peer.await(ARRIVED, 1, this, dst);
            MemorySegment.copy(input, dst * chunkBytes, peer.target(), i * chunkBytes, chunkBytes);
            peer.directPost();
            sent += chunkBytes;
        }
        me.await(DIRECT, n - 1, this, -1);
        received += (n - 1) * chunkBytes;
        double t = time;
        for (int s = 1; s < n; s++) {
            int src = mod(i - s);
            t = Math.max(t, op.ep[src].stepTime[0]) + link(src, i).time(chunkBytes);
        }
        time = t;
    }

    /** Waits for every member; costs what a 0-byte ring all-reduce costs: 2(n-1) latencies after the last arrival. */
    void barrier() {
        double latest = time;
        double latency = 0;
        for (int j = 0; j < n; j++) {
            op.ep[j].await(ARRIVED, 1, this, j);
            latest = Math.max(latest, op.ep[j].stepTime[0]);
            latency = Math.max(latency, link(j, mod(j + 1)).latency());
        }
        time = latest + 2.0 * (n - 1) * latency;
    }

    /** The message of a timed-out wait: the operation, who waited for whom, and who never arrived. */
    String timeoutMessage(Endpoint.Signal s, int peer) {
        String what = switch (s) {
            case ARRIVED -> "to join";
            case POSTED, DIRECT -> "to send its data";
            case CONSUMED -> "to free a staging slot";
            case READY -> "to finish its reduce-scatter phase";
        };
        String whom = peer >= 0 ? "rank " + group.globalRank(peer) : "the other members";
        return label + ": rank " + group.globalRank(i) + " waited " + run.timeoutText() + " for " + whom + " " + what + missing();
    }

    /** The same for a wait at a {@link Rendezvous}: {@code members} (group-local) had not reached it. */
    String timeoutMessage(List<Integer> members, String what) {
        List<Integer> ranks = members.stream().map(group::globalRank).toList();
        return label + ": rank " + group.globalRank(i) + " waited " + run.timeoutText() + " for rank(s) " + ranks + " " + what + missing();
    }

    private String missing() {
        List<Integer> missing = new ArrayList<>();
        for (Endpoint e : op.ep) if (!e.arrived()) missing.add(group.globalRank(e.member));
        return missing.isEmpty() ? "; every member joined, so a peer stopped part-way"
                : "; rank(s) " + missing + " never joined this collective (skipped it, or called collectives in another order)";
    }
}
