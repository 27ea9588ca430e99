package fourfold.engine.tensor;

import fourfold.devices.Device;
import fourfold.devices.DeviceMemory;
import fourfold.devices.MemoryTag;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A float32 tensor, contiguous and row-major, living in one device's memory.
 *
 * <p>A tensor either owns its block (and frees it on {@link #close()}) or is a view of another
 * tensor's block (a reshape or a range of rows); a view never frees. Kernels treat a tensor of
 * rank r as a matrix of {@link #rows()} x {@link #cols()} (all leading dims flattened), which is
 * how (B, T, C) activations meet (C_out, C_in) weights.
 */
public final class Tensor implements AutoCloseable {
    public static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final Device device;
    private final DeviceMemory.Block block;
    private final boolean owner;
    private final long byteOffset;
    private final int[] shape;
    private final long numel;
    private final String name;

    private Tensor(Device device, DeviceMemory.Block block, boolean owner, long byteOffset, int[] shape, String name) {
        this.device = device;
        this.block = block;
        this.owner = owner;
        this.byteOffset = byteOffset;
        this.shape = shape.clone();
        this.numel = Shape.numel(shape);
        this.name = name;
    }

    /** A tensor with undefined contents (as torch.empty). */
    public static Tensor empty(Device device, MemoryTag tag, String name, int... shape) {
        Shape.requirePositive("Tensor " + name, shape);
        long bytes = Shape.numel(shape) * Float.BYTES;
        DeviceMemory.Block block = device.memory().allocate(bytes, tag, name + Shape.str(shape));
        return new Tensor(device, block, true, 0, shape, name);
    }

    public static Tensor zeros(Device device, MemoryTag tag, String name, int... shape) {
        Tensor t = empty(device, tag, name, shape);
        t.zero();
        return t;
    }

    public static Tensor of(Device device, MemoryTag tag, String name, float[] values, int... shape) {
        Tensor t = empty(device, tag, name, shape);
        t.copyFrom(values);
        return t;
    }

    public Device device() {
        return device;
    }

    public String name() {
        return name;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public long numel() {
        return numel;
    }

    /** Product of all dims but the last: the row count when seen as a matrix. */
    public int rows() {
        return (int) (numel / shape[shape.length - 1]);
    }

    public int cols() {
        return shape[shape.length - 1];
    }

    public MemoryTag tag() {
        return block.tag();
    }

    /** The tensor's bytes (numel * 4); refused after the owning block is freed. */
    public MemorySegment segment() {
        return block.segment().asSlice(byteOffset, numel * Float.BYTES);
    }

    public boolean isFreed() {
        return block.isFreed();
    }

    /** Same storage, another shape with the same element count. */
    public Tensor view(int... newShape) {
        Shape.requirePositive("view of " + name, newShape);
        if (Shape.numel(newShape) != numel) {
            throw new IllegalArgumentException("view of " + name + ": cannot view " + Shape.str(shape) + " as " + Shape.str(newShape));
        }
        return new Tensor(device, block, false, byteOffset, newShape, name);
    }

    /** A view of rows [start, start+len) along dim 0 (contiguous, so no copy). */
    public Tensor rowsView(int start, int len) {
        if (start < 0 || len <= 0 || start + len > shape[0]) {
            throw new IllegalArgumentException("rowsView of " + name + Shape.str(shape) + ": range [" + start + ", " + (start + len) + ") outside dim 0");
        }
        int[] s = shape.clone();
        s[0] = len;
        long rowBytes = numel / shape[0] * Float.BYTES;
        return new Tensor(device, block, false, byteOffset + start * rowBytes, s, name);
    }

    /** A new tensor holding the slice [start, start+len) of dimension {@code dim} (a shard). */
    public Tensor slice(int dim, int start, int len, MemoryTag tag, String newName) {
        if (dim < 0) dim += shape.length;
        if (dim < 0 || dim >= shape.length || start < 0 || len <= 0 || start + len > shape[dim]) {
            throw new IllegalArgumentException("slice of " + name + Shape.str(shape) + ": dim " + dim + " range [" + start + ", " + (start + len) + ") is outside the tensor");
        }
        int[] s = shape.clone();
        s[dim] = len;
        Tensor out = empty(device, tag, newName, s);
        long outer = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        long inner = 1;
        for (int i = dim + 1; i < shape.length; i++) inner *= shape[i];
        MemorySegment src = segment();
        MemorySegment dst = out.segment();
        long chunk = len * inner * Float.BYTES;
        for (long o = 0; o < outer; o++) {
            long from = (o * shape[dim] + start) * inner * Float.BYTES;
            MemorySegment.copy(src, from, dst, o * chunk, chunk);
        }
        return out;
    }

    public float get(long i) {
        return segment().getAtIndex(F32, i);
    }

    public void set(long i, float v) {
        segment().setAtIndex(F32, i, v);
    }

    public void zero() {
        segment().fill((byte) 0);
    }

    public void fill(float v) {
        MemorySegment s = segment();
        for (long i = 0; i < numel; i++) s.setAtIndex(F32, i, v);
    }

    public float[] toArray() {
        if (numel > Integer.MAX_VALUE) throw new IllegalStateException(name + " is too large for a Java array");
        return segment().toArray(ValueLayout.JAVA_FLOAT);
    }

    public Tensor copyFrom(float[] values) {
        if (values.length != numel) {
            throw new IllegalArgumentException("copyFrom into " + name + Shape.str(shape) + ": expected " + numel + " values, got " + values.length);
        }
        MemorySegment.copy(values, 0, segment(), F32, 0, values.length);
        return this;
    }

    /** Copies {@code src}'s elements into this tensor; both must live on the same device and have the same element count. */
    public void copyFrom(Tensor src) {
        requireSameDevice("copy", this, src);
        if (src.numel != numel) {
            throw new IllegalArgumentException("copy: " + src.name + Shape.str(src.shape) + " into " + name + Shape.str(shape) + ": element counts differ");
        }
        MemorySegment.copy(src.segment(), 0, segment(), 0, numel * Float.BYTES);
    }

    /** Refuses tensors from different devices: data crosses devices only through a ProcessGroup. */
    public static void requireSameDevice(String op, Tensor... tensors) {
        Device d = tensors[0].device;
        for (Tensor t : tensors) {
            if (t.device != d) {
                throw new IllegalArgumentException(op + ": tensors on different devices (" + tensors[0].name + " on GPU " + d.index()
                        + ", " + t.name + " on GPU " + t.device.index() + "); move data with a collective");
            }
        }
    }

    /** Refuses a shape other than {@code expected}, naming the operation and both shapes. */
    public void requireShape(String op, int... expected) {
        if (!Arrays.equals(shape, expected)) {
            throw new IllegalArgumentException(op + ": " + name + " has shape " + Shape.str(shape) + ", expected " + Shape.str(expected));
        }
    }

    /** Frees the block if this tensor owns it; views do nothing. */
    @Override
    public void close() {
        if (owner && !block.isFreed()) block.free();
    }

    @Override
    public String toString() {
        return name + Shape.str(shape) + " on GPU " + device.index();
    }
}
