package fourfold.engine.kernels;

import fourfold.engine.tensor.Tensor;

/** Softmax cross-entropy over the vocabulary, fused with its gradient. */
public final class CrossEntropy {
    private CrossEntropy() {}

    /**
     * logits (N,V), targets (N) -> returns the SUM over rows of -log softmax(logits)[target]
     * (accumulated in double), and writes dlogits (N,V) = (softmax - onehot) * gradScale.
     * dlogits may be the logits tensor itself (in place).
     */
    public static double forwardBackward(Tensor logits, int[] targets, float gradScale, Tensor dlogits) {
        throw new UnsupportedOperationException("not implemented yet");
    }

    /** Sum of the row losses, no gradient (evaluation). */
    public static double forward(Tensor logits, int[] targets) {
        throw new UnsupportedOperationException("not implemented yet");
    }

    public static void rowMax(Tensor logits, float[] out) { throw new UnsupportedOperationException(); }
    public static void rowSumExp(Tensor logits, float[] max, float[] out) { throw new UnsupportedOperationException(); }
    public static void targetLogits(Tensor logits, int[] targets, int vocabStart, float[] out) { throw new UnsupportedOperationException(); }
    public static void gradient(Tensor logits, float[] max, float[] sumExp, int[] targets, int vocabStart, float gradScale, Tensor dlogits) { throw new UnsupportedOperationException(); }
}
