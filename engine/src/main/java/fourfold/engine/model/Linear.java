package fourfold.engine.model;

import fourfold.devices.MemoryTag;
import fourfold.engine.kernels.Gemm;
import fourfold.engine.tensor.Tensor;

/** y = x · Wᵀ with W stored [out, in] as Hugging Face stores it; no bias (Llama has none). */
public final class Linear {
    private final Parameter weight;

    public Linear(Parameter weight) {
        this.weight = weight;
    }

    public Parameter weight() {
        return weight;
    }

    public int in() {
        return weight.localShape()[1];
    }

    public int out() {
        return weight.localShape()[0];
    }

    /** x (N, in) -> y (N, out), a new activation. */
    public Tensor forward(Tensor x, String label) {
        Tensor y = Tensor.empty(x.device(), MemoryTag.ACTIVATIONS, label, x.rows(), out());
        forward(x, y);
        return y;
    }

    /** x (N, in) -> y (N, out), written into the caller's buffer. */
    public void forward(Tensor x, Tensor y) {
        Gemm.nt(x, weight.data(), y, false);
    }

    /** x (N, in) -> ys[i] (N, out_i) for several layers that read the same input (q, k, v; gate, up). */
    public static void forward(Tensor x, Linear[] layers, Tensor[] ys) {
        Tensor[] ws = new Tensor[layers.length];
        for (int i = 0; i < layers.length; i++) ws[i] = layers[i].weight.data();
        Gemm.ntShared(x, ws, ys, false);
    }

    /**
     * The backward of {@link #forward(Tensor, Linear[], Tensor[])}: dys[i] (N, out_i), x (N, in) ->
     * dW_i += dys[i]ᵀ · x for every layer, and dx (N, in) = the sum of dys[i] · W_i as one GEMM
     * (bitwise what {@link #backward(Tensor, Tensor, Tensor)} layer by layer, adding the dx's, gives).
     */
    public static void backward(Linear[] layers, Tensor[] dys, Tensor x, Tensor dx) {
        Tensor[] ws = new Tensor[layers.length];
        for (int i = 0; i < layers.length; i++) {
            Gemm.tn(dys[i], x, layers[i].weight.grad(), true);
            ws[i] = layers[i].weight.data();
        }
        Gemm.nnSum(dys, ws, dx, false);
    }

    /** dy (N, out), x (N, in) -> dW += dyᵀ · x; dx (N, in) = dy · W (skipped when dx is null). */
    public void backward(Tensor dy, Tensor x, Tensor dx) {
        Gemm.tn(dy, x, weight.grad(), true);
        if (dx != null) Gemm.nn(dy, weight.data(), dx, false);
    }
}
