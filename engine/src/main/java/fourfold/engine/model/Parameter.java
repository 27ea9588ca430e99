package fourfold.engine.model;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.engine.tensor.Shape;
import fourfold.engine.tensor.Tensor;

/**
 * A trainable tensor: its Hugging Face name and full shape, the part of it this rank holds (a
 * tensor-parallel shard along {@code shardDim}, or all of it), its values and its gradient.
 *
 * <p>The values can be absent (ZeRO-3 keeps only a flat shard between uses and gathers the full
 * local tensor just before a layer runs); the gradient is allocated on first use, so stages that
 * shard or free gradients between micro-batches (ZeRO-2/3) get a fresh zeroed one when needed.
 */
public final class Parameter {
    private final String name;
    private final int[] fullShape;
    private final int shardDim;
    private final int shardStart;
    private final int[] localShape;
    private final boolean weightDecay;
    private final Device device;
    private Tensor data;
    private Tensor grad;

    public Parameter(Device device, String name, int[] fullShape, int shardDim, int shardStart, int[] localShape, boolean weightDecay) {
        this.device = device;
        this.name = name;
        this.fullShape = fullShape.clone();
        this.shardDim = shardDim;
        this.shardStart = shardStart;
        this.localShape = localShape.clone();
        this.weightDecay = weightDecay;
    }

    /** A parameter held whole by this rank. */
    public static Parameter replicated(Device device, String name, boolean weightDecay, int... shape) {
        return new Parameter(device, name, shape, -1, 0, shape, weightDecay);
    }

    /** Rank {@code part} of {@code parts} equal slices along {@code dim} (tensor parallel). */
    public static Parameter sharded(Device device, String name, boolean weightDecay, int dim, int part, int parts, int... fullShape) {
        if (fullShape[dim] % parts != 0) {
            throw new IllegalArgumentException(name + ": dim " + dim + " of " + Shape.str(fullShape) + " is not divisible by " + parts + " shards");
        }
        int[] local = fullShape.clone();
        local[dim] = fullShape[dim] / parts;
        return new Parameter(device, name, fullShape, dim, part * local[dim], local, weightDecay);
    }

    public String name() {
        return name;
    }

    public int[] fullShape() {
        return fullShape.clone();
    }

    /** Dimension along which this rank holds a slice of the full tensor, or -1 if it holds it all. */
    public int shardDim() {
        return shardDim;
    }

    public int shardStart() {
        return shardStart;
    }

    public int[] localShape() {
        return localShape.clone();
    }

    public long localNumel() {
        return Shape.numel(localShape);
    }

    public boolean weightDecay() {
        return weightDecay;
    }

    public Device device() {
        return device;
    }

    /** The local values; refused while they are not materialized (ZeRO-3 between gathers). */
    public Tensor data() {
        if (data == null) throw new IllegalStateException(name + " is not materialized on GPU " + device.index() + " (missing all-gather before use?)");
        return data;
    }

    public boolean hasData() {
        return data != null;
    }

    /** Installs the local values (allocated by the caller); a previous tensor is freed. */
    public void setData(Tensor t) {
        t.requireShape("parameter " + name, localShape);
        if (data != null && data != t) data.close();
        data = t;
    }

    /** Frees the local values (ZeRO-3 after use). */
    public void releaseData() {
        if (data != null) data.close();
        data = null;
    }

    /** The gradient accumulation buffer, zeroed on first use after a release. */
    public Tensor grad() {
        if (grad == null) grad = Tensor.zeros(device, MemoryTag.GRADS, "grad." + name, localShape);
        return grad;
    }

    /** Installs the gradient buffer (e.g. a view into a data-parallel bucket); a previous one is freed. */
    public void setGrad(Tensor t) {
        t.requireShape("gradient of " + name, localShape);
        if (grad != null && grad != t) grad.close();
        grad = t;
    }

    public boolean hasGrad() {
        return grad != null;
    }

    public void releaseGrad() {
        if (grad != null) grad.close();
        grad = null;
    }

    public void zeroGrad() {
        if (grad != null) grad.zero();
    }

    public void close() {
        releaseData();
        releaseGrad();
    }

    @Override
    public String toString() {
        return name + Shape.str(localShape) + (shardDim >= 0 ? " (shard of " + Shape.str(fullShape) + " along dim " + shardDim + ")" : "");
    }
}
