package fourfold.devices.comm;

import java.lang.foreign.MemorySegment;

/**
 * One member's execution of a collective by the direct algorithms, for small messages where the
 * ring's 2(n-1) hand-offs between threads cost more than the bytes: every member reads its peers'
 * published buffers (or writes into them) directly, and the members meet at two or three
 * {@link Rendezvous} points instead of once per ring step.
 *
 * <p>Results are bitwise the ring's: chunk k is reduced in the ring's order,
 * {@code ((x[k+1] op x[k+2]) op ...) op x[k]}, by the same kernel with the same operands on each
 * side (the member's own values first, the partial second), and AVG divides at the last step.
 * Simulated time and byte counts are the ring's too ({@link RingModel}), so the choice of
 * algorithm shows only in wall-clock time. Staging is the ring's block (its peak memory is the
 * ring's); here it holds partial sums, private to the member.
 *
 * <p>What a member reads stays unchanged until it has passed the rendezvous that follows the
 * reading, and a member returns only once every peer has finished with its buffers.
 */
final class DirectCollective {
    private final Collective c;
    private final Op op;
    private final int i;
    private final int n;
    private final long count;
    private final RingModel ring;

    DirectCollective(Collective c) {
        this.c = c;
        this.op = c.op;
        this.i = c.i;
        this.n = c.n;
        this.count = op.desc.count();
        this.ring = new RingModel(c.group, count);
    }

    private int mod(int a) {
        return ((a % n) + n) % n;
    }

    private ProcessGroup.Chunk chunk(int k) {
        return ProcessGroup.chunk(count, n, mod(k));
    }

    /** The buffer member {@code m} published (its all-reduce buffer, reduce-scatter input or all-gather output). */
    private MemorySegment buffer(int m) {
        return op.ep[mod(m)].target();
    }

    /**
     * One-shot all-reduce: each member reduces the whole buffer from every member's, into its
     * staging; once everyone has read that part, each copies it into its own buffer. The staging
     * (the ring's: 4 slots of min(slice, count / n)) holds all of it for up to 4 members, so a
     * larger group takes several rounds, one rendezvous each.
     */
    void allReduceOneShot(MemorySegment buf, ReduceOp reduce) {
        chargeAllReduce(join());
        MemorySegment scratch = c.me.staging();
        long room = scratch.byteSize() / Float.BYTES;
        for (long from = 0; from < count; from += room) {
            long to = Math.min(count, from + room);
            for (int k = 0; k < n; k++) {
                ProcessGroup.Chunk ch = chunk(k);
                long a = Math.max(from, ch.start());
                long b = Math.min(to, ch.end());
                if (a < b) reduce(k, reduce, a, b - a, scratch, scratch, (a - from) * Float.BYTES);
            }
            op.rendezvous.pass(i, c, "to finish reading its peers' buffers");
            MemorySegment.copy(scratch, 0, buf, from * Float.BYTES, (to - from) * Float.BYTES);
        }
    }

    /**
     * Two-shot all-reduce: member i reduces chunk i from every member's buffer into its own (only
     * member i reads anyone's chunk i, so nobody else needs it unchanged), then writes the result
     * into chunk i of every peer's buffer. The rendezvous after the writes is also the point after
     * which nobody reads this member's buffer.
     */
    void allReduceTwoShot(MemorySegment buf, ReduceOp reduce) {
        chargeAllReduce(join());
        ProcessGroup.Chunk mine = chunk(i);
        reduceOwnChunk(reduce, buf, mine.start() * Float.BYTES);
        scatterOwnChunk(buf, mine.start() * Float.BYTES);
        op.rendezvous.pass(i, c, "to write its reduced chunk into its peers' buffers");
    }

    /** Direct reduce-scatter: the first half of two-shot, into {@code output}; peers read this member's input until the rendezvous. */
    void reduceScatter(MemorySegment output, ReduceOp reduce) {
        double[] start = join();
        c.time = ring.reduceScatter(start)[i];
        c.sent += ring.reduceScatterSent(i);
        c.received += ring.reduceScatterReceived(i);
        reduceOwnChunk(reduce, output, 0);
        op.rendezvous.pass(i, c, "to finish reading its peers' inputs");
    }

    /** Direct all-gather: the second half of two-shot; {@code own} is this member's chunk. */
    void allGather(MemorySegment own) {
        double[] start = join();
        c.time = ring.allGather(start)[i];
        c.sent += ring.allGatherSent(i);
        c.received += ring.allGatherReceived(i);
        scatterOwnChunk(own, 0);
        op.rendezvous.pass(i, c, "to write its chunk into its peers' outputs");
    }

    /** Waits until every member has published its buffers; returns their start times. */
    private double[] join() {
        op.rendezvous.pass(i, c, "to join");
        double[] start = new double[n];
        for (int m = 0; m < n; m++) start[m] = op.ep[m].stepTime[0];
        return start;
    }

    private void chargeAllReduce(double[] start) {
        c.time = ring.allGather(ring.reduceScatter(start))[i];
        c.sent += ring.reduceScatterSent(i) + ring.allGatherSent(i);
        c.received += ring.reduceScatterReceived(i) + ring.allGatherReceived(i);
    }

    /** My chunk, reduced from every member's buffer into {@code dst} at byte {@code dstOffset}, a staging's worth at a time. */
    private void reduceOwnChunk(ReduceOp reduce, MemorySegment dst, long dstOffset) {
        ProcessGroup.Chunk mine = chunk(i);
        MemorySegment scratch = c.me.staging();
        long room = scratch.byteSize() / Float.BYTES;
        for (long p = 0; p < mine.length(); p += room) {
            reduce(i, reduce, mine.start() + p, Math.min(room, mine.length() - p), scratch, dst, dstOffset + p * Float.BYTES);
        }
    }

    /** Copies my chunk (at byte {@code offset} of {@code src}) into chunk i of every peer's buffer, successor first. */
    private void scatterOwnChunk(MemorySegment src, long offset) {
        ProcessGroup.Chunk mine = chunk(i);
        for (int s = 1; s < n; s++) {
            MemorySegment.copy(src, offset, buffer(i + s), mine.start() * Float.BYTES, mine.length() * Float.BYTES);
        }
    }

    /**
     * {@code dst} = elements [at, at + len) of chunk k reduced over every member's buffer in ring
     * order; the partial sums go to {@code scratch} at its start ({@code dst} may be scratch, or
     * this member's own buffer at the same elements).
     */
    private void reduce(int k, ReduceOp reduce, long at, long len, MemorySegment scratch, MemorySegment dst, long dstOffset) {
        long off = at * Float.BYTES;
        long scratchOff = dst == scratch ? dstOffset : 0;
        MemorySegment partial = buffer(k + 1);
        long partialOff = off;
        for (int j = 2; j < n; j++) {
            Reduce.combine(reduce, false, n, buffer(k + j), off, partial, partialOff, scratch, scratchOff, len);
            partial = scratch;
            partialOff = scratchOff;
        }
        Reduce.combine(reduce, true, n, buffer(k), off, partial, partialOff, dst, dstOffset, len);
    }
}
