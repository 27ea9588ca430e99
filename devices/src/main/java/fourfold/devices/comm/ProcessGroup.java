package fourfold.devices.comm;

import fourfold.devices.Device;

import java.lang.foreign.MemorySegment;

/** TEMPORARY contract stub; the cluster branch brings the real interface. */
public interface ProcessGroup {
    record Chunk(long start, long length) {}

    static Chunk chunk(long count, int size, int index) {
        long base = count / size, extra = count % size;
        long start = index * base + Math.min(index, extra);
        return new Chunk(start, base + (index < extra ? 1 : 0));
    }

    int rank();

    int size();

    void allReduce(MemorySegment buf, ReduceOp op);

    void reduceScatter(MemorySegment input, MemorySegment output);

    void allGather(MemorySegment input, MemorySegment output);

    CommHandle allReduceAsync(MemorySegment buf, ReduceOp op);

    CommHandle reduceScatterAsync(MemorySegment input, MemorySegment output);
}
