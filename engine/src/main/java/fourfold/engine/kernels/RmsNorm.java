package fourfold.engine.kernels;

import fourfold.engine.tensor.Tensor;

/** RMSNorm as Hugging Face Llama computes it: y = x / sqrt(mean(x²) + eps) * w, per row. */
public final class RmsNorm {
    private RmsNorm() {}

    /** x (N,C), weight (C) -> out (N,C); rstd (N) keeps 1/sqrt(mean(x²)+eps) for backward. */
    public static void forward(Tensor x, Tensor weight, float eps, Tensor out, Tensor rstd) {
        throw new UnsupportedOperationException("not implemented yet");
    }

    /** dout (N,C) -> dx (N,C) overwritten; dweight (C) accumulated (+=). */
    public static void backward(Tensor dout, Tensor x, Tensor weight, Tensor rstd, Tensor dx, Tensor dweight) {
        throw new UnsupportedOperationException("not implemented yet");
    }
}
