package fourfold.engine.tp;

import fourfold.engine.tensor.Tensor;

/**
 * The tensor-parallel group a layer is handed, with Megatron's two conjugate operators as
 * explicit calls: f (identity forward, all-reduce of the input gradient backward) in front of a
 * column-parallel region, g (all-reduce of the partial output forward, identity backward) behind a
 * row-parallel one. With one rank both are no-ops, so a layer never branches on the layout.
 */
public final class TensorParallel {
    private static final TensorParallel NONE = new TensorParallel();

    private TensorParallel() {}

    /** One rank: every operator is the identity. */
    public static TensorParallel none() {
        return NONE;
    }

    public int size() {
        return 1;
    }

    public int rank() {
        return 0;
    }

    /** f, backward: sums the input gradient over the group. */
    public void fBackward(Tensor dx) {
    }

    /** g, forward: sums the row-parallel partial outputs over the group. */
    public void gForward(Tensor y) {
    }

    /** Element-wise max over the group (vocab-parallel softmax statistics). */
    public void allReduceMax(float[] values) {
    }

    /** Element-wise sum over the group (vocab-parallel softmax statistics). */
    public void allReduceSum(float[] values) {
    }
}
