package fourfold.devices;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.SplittableRandom;

/** Test helpers: deterministic inputs and float arrays in and out of device memory. */
public final class TestBuffers {
    private TestBuffers() {}

    /** Pseudo-random floats in [-1, 1) with full mantissas (so summation order shows in the rounding), fixed by (rank, length, salt). */
    public static float[] values(int rank, int length, int salt) {
        SplittableRandom rnd = new SplittableRandom(((long) salt << 40) ^ ((long) rank << 20) ^ length);
        float[] v = new float[length];
        for (int i = 0; i < length; i++) v[i] = (float) (rnd.nextDouble() * 2 - 1);
        return v;
    }

    /** A COMM-free block on {@code device} holding {@code values}; remembered in {@code owned} so the caller frees it. */
    public static MemorySegment put(Device device, float[] values, List<DeviceMemory.Block> owned) {
        MemorySegment s = alloc(device, values.length, owned);
        MemorySegment.copy(values, 0, s, ValueLayout.JAVA_FLOAT, 0, values.length);
        return s;
    }

    public static MemorySegment alloc(Device device, long floats, List<DeviceMemory.Block> owned) {
        DeviceMemory.Block b = device.memory().allocate(floats * Float.BYTES, MemoryTag.ACTIVATIONS, "test buffer");
        owned.add(b);
        b.segment().fill((byte) 0);
        return b.segment();
    }

    public static float[] read(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_FLOAT);
    }

    public static void freeAll(List<DeviceMemory.Block> owned) {
        for (DeviceMemory.Block b : owned) b.close();
        owned.clear();
    }
}
