package fourfold.engine.kernels;

import fourfold.engine.tensor.Tensor;

/** Elementwise kernels over whole tensors of equal element count. */
public final class Elementwise {
    private Elementwise() {}

    /** out = a + b. out may alias a or b. */
    public static void add(Tensor a, Tensor b, Tensor out) {
        throw new UnsupportedOperationException("not implemented yet");
    }

    /** acc += x. */
    public static void addInPlace(Tensor acc, Tensor x) {
        throw new UnsupportedOperationException("not implemented yet");
    }

    /** y += alpha * x. */
    public static void axpy(float alpha, Tensor x, Tensor y) {
        throw new UnsupportedOperationException("not implemented yet");
    }

    /** x *= s, in place. */
    public static void scale(Tensor x, float s) {
        throw new UnsupportedOperationException("not implemented yet");
    }

    /** Sum of x², accumulated in double in a fixed order (bitwise reproducible; for the gradient norm). */
    public static double sumOfSquares(Tensor x) {
        throw new UnsupportedOperationException("not implemented yet");
    }
}
