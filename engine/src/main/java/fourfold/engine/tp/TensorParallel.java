package fourfold.engine.tp;

import fourfold.devices.MemoryTag;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.ReduceOp;
import fourfold.engine.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * The tensor-parallel group a layer is handed, with Megatron's conjugate operators as explicit
 * calls around each parallel region:
 * <ul>
 *   <li>{@link #enter} in front of column-parallel linears: identity forward / all-reduce of the
 *   input gradient backward ({@link #enterBackward}); with sequence parallel, all-gather of the
 *   sequence shards forward / reduce-scatter backward;</li>
 *   <li>{@link #exit} behind row-parallel linears: all-reduce of the partial outputs forward /
 *   identity backward ({@link #exitBackward}); with sequence parallel, reduce-scatter forward /
 *   all-gather backward.</li>
 * </ul>
 * With one rank every operator is the identity, so layers never branch on the layout. Each
 * operator returns its input tensor or a new one; {@link #free} releases only a new one.
 *
 * <p>Sequence parallel shards the flattened (B*T) token rows: rank r holds rows
 * [r*N/tp, (r+1)*N/tp). Norms and residual adds work on any token partition.
 */
public final class TensorParallel {
    private static final TensorParallel NONE = new TensorParallel(null, false);

    private final ProcessGroup group;
    private final boolean sequenceParallel;

    private TensorParallel(ProcessGroup group, boolean sequenceParallel) {
        this.group = group;
        this.sequenceParallel = sequenceParallel && group != null && group.size() > 1;
    }

    /** One rank: every operator is the identity. */
    public static TensorParallel none() {
        return NONE;
    }

    public static TensorParallel of(ProcessGroup group, boolean sequenceParallel) {
        return group.size() == 1 && !sequenceParallel ? NONE : new TensorParallel(group, sequenceParallel);
    }

    public int size() {
        return group == null ? 1 : group.size();
    }

    public int rank() {
        return group == null ? 0 : group.rank();
    }

    public boolean sequenceParallel() {
        return sequenceParallel;
    }

    /** Token rows this rank holds outside the parallel regions (N, or N / tp with sequence parallel). */
    public int localRows(int N) {
        return sequenceParallel ? N / size() : N;
    }

    /** First of this rank's token rows (0 without sequence parallel). */
    public int firstRow(int N) {
        return sequenceParallel ? rank() * (N / size()) : 0;
    }

    /** f forward: the full input of a column-parallel region (N, C). */
    public Tensor enter(Tensor xLocal) {
        if (!sequenceParallel) return xLocal;
        Tensor full = Tensor.empty(xLocal.device(), MemoryTag.ACTIVATIONS, xLocal.name() + ".gathered", xLocal.rows() * size(), xLocal.cols());
        group.allGather(xLocal.segment(), full.segment());
        return full;
    }

    /** f backward: sums the partial input gradients (N, C) of the region; returns this rank's rows. */
    public Tensor enterBackward(Tensor dxFull) {
        return reduce(dxFull);
    }

    /** g forward: sums the partial outputs (N, C) of a row-parallel region; returns this rank's rows. */
    public Tensor exit(Tensor yPartial) {
        return reduce(yPartial);
    }

    /** g backward: the full output gradient (N, C) from this rank's rows. */
    public Tensor exitBackward(Tensor dyLocal) {
        return enter(dyLocal);
    }

    private Tensor reduce(Tensor partial) {
        if (group == null || group.size() == 1) return partial;
        if (!sequenceParallel) {
            group.allReduce(partial.segment(), ReduceOp.SUM);
            return partial;
        }
        Tensor local = Tensor.empty(partial.device(), MemoryTag.ACTIVATIONS, partial.name() + ".scattered", partial.rows() / size(), partial.cols());
        group.reduceScatter(partial.segment(), local.segment());
        return local;
    }

    /** Frees {@code result} if an operator allocated it (it is not {@code input}). */
    public static void free(Tensor result, Tensor input) {
        if (result != input) result.close();
    }

    /** Element-wise max over the group (vocab-parallel softmax statistics). */
    public void allReduceMax(Tensor any, float[] values) {
        allReduce(any, values, ReduceOp.MAX);
    }

    /** Element-wise sum over the group (vocab-parallel softmax statistics). */
    public void allReduceSum(Tensor any, float[] values) {
        allReduce(any, values, ReduceOp.SUM);
    }

    private void allReduce(Tensor onDevice, float[] values, ReduceOp op) {
        if (group == null || group.size() == 1) return;
        try (Tensor buf = Tensor.of(onDevice.device(), MemoryTag.COMM, "tp.stats", values, values.length)) {
            group.allReduce(buf.segment(), op);
            MemorySegment.copy(buf.segment(), Tensor.F32, 0, values, 0, values.length);
        }
    }

    /** Sum of a double over the group (e.g. squared norms of sharded gradients). */
    public double allReduceSum(fourfold.devices.Device device, double value) {
        return fourfold.engine.tensor.Scalars.allReduceSum(group, device, value);
    }

    public ProcessGroup group() {
        return group;
    }
}
