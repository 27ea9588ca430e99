package fourfold.engine.model;

import fourfold.devices.MemoryTag;
import fourfold.engine.kernels.RmsNorm;
import fourfold.engine.tensor.Tensor;

/** Llama's RMSNorm with a learned scale (no decay); its saved state is the input's 1/rms per row. */
public final class RmsNormLayer {
    private final Parameter weight;
    private final float eps;

    public RmsNormLayer(Parameter weight, double eps) {
        this.weight = weight;
        this.eps = (float) eps;
    }

    public Parameter weight() {
        return weight;
    }

    /** What backward needs: the normalized output and 1/rms per row. */
    public record Saved(Tensor out, Tensor rstd) implements AutoCloseable {
        @Override
        public void close() {
            out.close();
            rstd.close();
        }
    }

    /** x (N, C) -> out (N, C). */
    public Saved forward(Tensor x, String label) {
        Tensor out = Tensor.empty(x.device(), MemoryTag.ACTIVATIONS, label, x.rows(), x.cols());
        Tensor rstd = Tensor.empty(x.device(), MemoryTag.ACTIVATIONS, label + ".rstd", x.rows());
        RmsNorm.forward(x, weight.data(), eps, out, rstd);
        return new Saved(out, rstd);
    }

    /** dout (N, C) -> dx (N, C) overwritten; the weight gradient accumulates. */
    public void backward(Tensor dout, Tensor x, Saved saved, Tensor dx) {
        RmsNorm.backward(dout, x, weight.data(), saved.rstd(), dx, weight.grad());
    }
}
