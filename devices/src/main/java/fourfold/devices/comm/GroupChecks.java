package fourfold.devices.comm;

import java.lang.foreign.MemorySegment;

/** The argument checks every {@link ProcessGroup} implementation makes, with the same messages. */
public final class GroupChecks {
    private GroupChecks() {}

    /** The number of floats in {@code seg}, after checking it is float32 data in the group's device memory. */
    public static long floats(ProcessGroup g, String op, MemorySegment seg, String role) {
        if (seg == null) throw new IllegalArgumentException(op + " on group " + g.name() + ": " + role + " is null");
        if (seg.byteSize() % Float.BYTES != 0) {
            throw new IllegalArgumentException(op + " on group " + g.name() + ": " + role + " is " + seg.byteSize()
                    + " bytes, not a whole number of float32 values");
        }
        if (!g.device().memory().owns(seg)) {
            throw new IllegalArgumentException(op + " on group " + g.name() + ": " + role + " (" + seg.byteSize() + " bytes) is not in the memory of "
                    + g.device() + " (rank " + g.globalRanks()[g.rank()] + "); collectives move device memory only: allocate the buffer on the rank's own device");
        }
        return seg.byteSize() / Float.BYTES;
    }

    public static void peer(ProcessGroup g, String op, String role, int peer) {
        if (peer < 0 || peer >= g.size()) {
            throw new IllegalArgumentException(op + " on group " + g.name() + ": " + role + " " + peer + " is not a group rank in [0, " + g.size() + ")");
        }
    }

    /** Reduce-scatter: {@code output} must hold exactly this member's chunk of the input. */
    public static void reduceScatterOutput(ProcessGroup g, long count, long outCount) {
        ProcessGroup.Chunk mine = ProcessGroup.chunk(count, g.size(), g.rank());
        if (outCount != mine.length()) {
            throw new IllegalArgumentException("reduceScatter on group " + g.name() + ": output holds " + outCount + " floats, but group rank "
                    + g.rank() + " of " + g.size() + " receives chunk [" + mine.start() + ", " + mine.end() + ") of the " + count + "-float input = "
                    + mine.length() + " floats");
        }
    }

    /** All-gather: {@code input} must hold exactly this member's chunk of the output. */
    public static void allGatherInput(ProcessGroup g, long inCount, long count) {
        ProcessGroup.Chunk mine = ProcessGroup.chunk(count, g.size(), g.rank());
        if (inCount != mine.length()) {
            throw new IllegalArgumentException("allGather on group " + g.name() + ": input holds " + inCount + " floats, but group rank " + g.rank()
                    + " of " + g.size() + " owns chunk [" + mine.start() + ", " + mine.end() + ") of the " + count + "-float output = "
                    + mine.length() + " floats");
        }
    }

    public static void broadcastRoot(ProcessGroup g, int root) {
        if (root < 0 || root >= g.size()) {
            throw new IllegalArgumentException("broadcast on group " + g.name() + ": root " + root + " is not a group rank in [0, " + g.size() + ")");
        }
    }

    /** All-to-all: equal counts, a multiple of the group size, and (for more than one member) no overlap. */
    public static void allToAll(ProcessGroup g, MemorySegment input, MemorySegment output, long count, long outCount) {
        if (count != outCount || count % g.size() != 0) {
            throw new IllegalArgumentException("allToAll on group " + g.name() + ": input holds " + count + " floats and output " + outCount
                    + "; both must hold the same count, a multiple of the group size " + g.size());
        }
        if (g.size() == 1) return;
        long a = input.address();
        long b = output.address();
        if (count > 0 && a < b + output.byteSize() && b < a + input.byteSize()) {
            throw new IllegalArgumentException("allToAll on group " + g.name() + ": input and output overlap; peers write into the output while the input is read");
        }
    }

    /** Copies {@code from} into {@code to} unless they are the same bytes. */
    public static void copyIfDistinct(MemorySegment from, MemorySegment to) {
        if (from.address() != to.address() || from.byteSize() != to.byteSize()) MemorySegment.copy(from, 0, to, 0, from.byteSize());
    }
}
