package fourfold.devices.comm;

import fourfold.devices.Device;

import java.lang.foreign.MemorySegment;

/**
 * The ranks of one group (one mesh axis, or several such as dp×cp) and the collectives among them,
 * as a NCCL communicator offers them. Buffers are float32 {@link MemorySegment}s in this rank's
 * device memory; counts are in floats. Every member calls the same collectives in the same order
 * (as with NCCL); a member that does not arrive makes the others fail after the cluster's
 * collective timeout, naming it.
 *
 * <p>Chunking: reduce-scatter and all-gather split a buffer of {@code count} floats into
 * {@code size()} contiguous chunks given by {@link #chunk}: the first {@code count % size} members
 * get one element more, so any length works (chunks may be empty).
 *
 * <p>Reduction order is fixed, so results are bitwise reproducible and identical on all members:
 * chunk k is summed along the ring starting at member k+1, i.e.
 * {@code ((x[k+1] + x[k+2]) + ...) + x[k]} (indices mod size), and AVG divides that sum by size.
 *
 * <p>On a group of size 1 every collective is a no-op that moves no bytes (reduce-scatter,
 * all-gather and all-to-all copy input to output when they are different buffers).
 */
public interface ProcessGroup {
    /** This rank's index inside the group (its position in {@link #globalRanks()}). */
    int rank();

    int size();

    /** The group's axes in mesh order, e.g. "dp", "tp", "dp×cp". */
    String name();

    /** The members' global ranks, in mesh order. */
    int[] globalRanks();

    /** This rank's device: the memory every buffer must live in. */
    Device device();

    /** In place: every member ends with the reduction of all members' {@code buf}. */
    void allReduce(MemorySegment buf, ReduceOp op);

    /**
     * {@code input} holds the full count on every member; {@code output} receives this member's
     * chunk ({@link #chunk}(count, size, rank)) of the SUM. {@code input} is not modified;
     * {@code output} may be that chunk of {@code input} (in place).
     */
    default void reduceScatter(MemorySegment input, MemorySegment output) {
        reduceScatter(input, output, ReduceOp.SUM);
    }

    void reduceScatter(MemorySegment input, MemorySegment output, ReduceOp op);

    /** {@code input} is this member's chunk, {@code output} receives every member's chunk (same chunking). */
    void allGather(MemorySegment input, MemorySegment output);

    /** Every member's {@code buf} ends equal to the {@code root} member's (root is group-local). */
    void broadcast(MemorySegment buf, int root);

    /** Sends {@code buf} to group-local rank {@code dst}; returns without waiting for the receiver (eager). */
    void send(MemorySegment buf, int dst, int tag);

    /** Receives the next message with {@code tag} from group-local rank {@code src}; its length must equal {@code buf}'s. */
    void recv(MemorySegment buf, int src, int tag);

    /**
     * Async {@link #send}: the message is staged in the receiver's memory at once (eager), so the
     * handle is complete on return and {@code buf} may be reused.
     */
    default CommHandle isend(MemorySegment buf, int dst, int tag) {
        send(buf, dst, tag);
        return CommHandle.completed();
    }

    /**
     * Async {@link #recv}, posted now: {@link CommHandle#await()} fills {@code buf} and moves the
     * compute lane to the message's arrival, max(send time, time posted) + the link's latency +
     * bytes / bandwidth. {@code buf} must not be read before that.
     */
    CommHandle irecv(MemorySegment buf, int src, int tag);

    /**
     * {@code input} and {@code output} hold {@code size} equal chunks: chunk j of member i's input
     * becomes chunk i of member j's output. The count must be a multiple of the group size.
     */
    void allToAll(MemorySegment input, MemorySegment output);

    /** Returns once every member has arrived. */
    void barrier();

    /** {@link #allReduce} on this rank's comm lane; the buffer must not be touched until {@link CommHandle#await()}. */
    CommHandle allReduceAsync(MemorySegment buf, ReduceOp op);

    default CommHandle reduceScatterAsync(MemorySegment input, MemorySegment output) {
        return reduceScatterAsync(input, output, ReduceOp.SUM);
    }

    CommHandle reduceScatterAsync(MemorySegment input, MemorySegment output, ReduceOp op);

    CommHandle allGatherAsync(MemorySegment input, MemorySegment output);

    /** One member's chunk of a buffer of {@code count} floats: start and length in floats. */
    record Chunk(long start, long length) {
        public long end() {
            return start + length;
        }
    }

    /** Chunk {@code index} of {@code count} floats split over {@code size} members; the first count % size get one extra. */
    static Chunk chunk(long count, int size, int index) {
        if (count < 0 || size < 1 || index < 0 || index >= size) {
            throw new IllegalArgumentException("chunk: need count >= 0, size >= 1 and 0 <= index < size, got count=" + count + " size=" + size + " index=" + index);
        }
        long base = count / size;
        long extra = count % size;
        long start = index * base + Math.min(index, extra);
        return new Chunk(start, base + (index < extra ? 1 : 0));
    }
}
