package fourfold.engine.model;

import fourfold.devices.MemoryTag;
import fourfold.engine.kernels.Gemm;
import fourfold.engine.tensor.Tensor;

/** y = x · Wᵀ with W stored [out, in] as Hugging Face stores it; no bias (Llama has none). */
public final class Linear {
    private final Parameter weight;
    private final DeferredWeightGrads deferred; // where a split backward (B) leaves dW for W

    public Linear(Parameter weight) {
        this(weight, new DeferredWeightGrads());
    }

    public Linear(Parameter weight, DeferredWeightGrads deferred) {
        this.weight = weight;
        this.deferred = deferred;
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

    /**
     * dy (N, out), x (N, in) -> dW += dyᵀ · x; dx (N, in) = dy · W, or += with {@code accumulateDx}
     * (q, k and v share one input, so their input gradients add up in one buffer). In a split
     * backward, dW is deferred to W.
     */
    public void backward(Tensor dy, Tensor x, Tensor dx, boolean accumulateDx) {
        if (deferred.active()) deferred.defer(weight, dy, x);
        else Gemm.tn(dy, x, weight.grad(), true);
        if (dx != null) Gemm.nn(dy, weight.data(), dx, accumulateDx);
    }
}
