package fourfold.engine.kernels;

import fourfold.engine.tensor.Tensor;

/** SwiGLU gate of the Llama MLP: out = silu(gate) * up, silu(x) = x * sigmoid(x). */
public final class SwiGlu {
    private SwiGlu() {}

    /** gate (N,F), up (N,F) -> out (N,F). */
    public static void forward(Tensor gate, Tensor up, Tensor out) {
        throw new UnsupportedOperationException("not implemented yet");
    }

    /** dout (N,F) -> dgate, dup (N,F), overwritten. */
    public static void backward(Tensor dout, Tensor gate, Tensor up, Tensor dgate, Tensor dup) {
        throw new UnsupportedOperationException("not implemented yet");
    }
}
