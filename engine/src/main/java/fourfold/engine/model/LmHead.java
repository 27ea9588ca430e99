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
        Tensor xn = tp.enter(n.out());                 // (N, C)
        Tensor logits = proj.forward(xn, "logits");    // (N, V / tp)
        TensorParallel.free(xn, n.out());
        int N = logits.rows();
        float[] max = new float[N];
        float[] sumExp = new float[N];
        float[] target = new float[N];
        CrossEntropy.rowMax(logits, max);
        tp.allReduceMax(logits, max);
        CrossEntropy.rowSumExp(logits, max, sumExp);
        tp.allReduceSum(logits, sumExp);
        CrossEntropy.targetLogits(logits, targets, vocabStart, target);
        tp.allReduceSum(logits, target);
        double loss = CrossEntropy.lossSum(max, sumExp, target);
        if (!withGrad) {
            logits.close();
            n.close();
            return new Result(loss, null);
        }
        CrossEntropy.gradient(logits, max, sumExp, targets, vocabStart, gradScale, logits); // in place
        return new Result(loss, new Saved(n, logits));
    }

    /** x (this rank's token rows, C) -> dx (new). Frees the saved state. */
    public Tensor backward(Tensor x, Saved s) {
        try (s) {
            Tensor dnFull = Tensor.empty(x.device(), MemoryTag.ACTIVATIONS, "dnorm", s.dlogits().rows(), x.cols());
            Tensor xn = tp.enter(s.n().out());
            proj.backward(s.dlogits(), xn, dnFull, false);
            TensorParallel.free(xn, s.n().out());
            Tensor dn = tp.enterBackward(dnFull);
            TensorParallel.free(dnFull, dn);
            Tensor dx = Tensor.empty(x.device(), MemoryTag.ACTIVATIONS, "dx", x.rows(), x.cols());
            try (dn) {
                norm.backward(dn, x, s.n(), dx);
            }
            return dx;
        }
    }

    /** This rank's logits (rows, V / tp) of x (rows, C), for generation (one rank). */
    public Tensor logits(Tensor x) {
        try (RmsNormLayer.Saved n = norm.forward(x, "norm")) {
            return proj.forward(n.out(), "logits");
        }
    }
}
