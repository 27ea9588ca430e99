package fourfold.engine.model;

import fourfold.devices.MemoryTag;
import fourfold.engine.kernels.CrossEntropy;
import fourfold.engine.tensor.Tensor;
import fourfold.engine.tp.TensorParallel;

import java.util.List;

/**
 * Final norm, lm_head and the loss. Under tensor parallel lm_head is column-parallel over the
 * vocabulary and the cross-entropy is vocab-parallel: the row max, the sum of exponentials and the
 * target logit are reduced over the group, so the full logits never exist on one device.
 */
public final class LmHead {
    private final RmsNormLayer norm;
    private final Linear proj;
    private final TensorParallel tp;
    private final int vocabStart;

    public LmHead(RmsNormLayer norm, Linear proj, TensorParallel tp) {
        this.norm = norm;
        this.proj = proj;
        this.tp = tp;
        this.vocabStart = Math.max(0, proj.weight().shardStart());
    }

    public List<Parameter> parameters() {
        return List.of(norm.weight(), proj.weight());
    }

    /** The normalized input and the loss gradient w.r.t. this rank's logits, already scaled. */
    public record Saved(RmsNormLayer.Saved n, Tensor dlogits) implements AutoCloseable {
        @Override
        public void close() {
            n.close();
            if (dlogits != null) dlogits.close();
        }
    }

    /** A forward result: the sum of the token losses, and what backward needs (null without gradient). */
    public record Result(double lossSum, Saved saved) {}

    /**
     * x (N, C), targets (N) -> sum over the N tokens of -log p(target). With {@code withGrad}, the
     * gradient of (loss sum * gradScale) w.r.t. the logits is kept for backward.
     */
    public Result forward(Tensor x, int[] targets, float gradScale, boolean withGrad) {
        RmsNormLayer.Saved n = norm.forward(x, "norm");
        Tensor logits = proj.forward(n.out(), "logits"); // (N, V / tp)
        int N = logits.rows();
        float[] max = new float[N];
        float[] sumExp = new float[N];
        float[] target = new float[N];
        CrossEntropy.rowMax(logits, max);
        tp.allReduceMax(max);
        CrossEntropy.rowSumExp(logits, max, sumExp);
        tp.allReduceSum(sumExp);
        CrossEntropy.targetLogits(logits, targets, vocabStart, target);
        tp.allReduceSum(target);
        double loss = 0;
        for (int i = 0; i < N; i++) loss += Math.log(sumExp[i]) + max[i] - target[i];
        if (!withGrad) {
            logits.close();
            n.close();
            return new Result(loss, null);
        }
        CrossEntropy.gradient(logits, max, sumExp, targets, vocabStart, gradScale, logits); // in place
        return new Result(loss, new Saved(n, logits));
    }

    /** x (N, C) -> dx (N, C) overwritten. Frees the saved state. */
    public void backward(Tensor x, Saved s, Tensor dx) {
        try (s; Tensor dn = Tensor.empty(x.device(), MemoryTag.ACTIVATIONS, "dnorm", x.rows(), x.cols())) {
            proj.backward(s.dlogits(), s.n().out(), dn, false);
            tp.fBackward(dn);
            norm.backward(dn, x, s.n(), dx);
        }
    }

    /** This rank's logits (N, V / tp) of x (N, C), for generation. */
    public Tensor logits(Tensor x) {
        try (RmsNormLayer.Saved n = norm.forward(x, "norm")) {
            return proj.forward(n.out(), "logits");
        }
    }
}
