package fourfold.engine.kernels;

import fourfold.engine.tensor.Tensor;

/**
 * Rotary position embedding in Hugging Face's rotate-half convention: for head size hs and
 * i < hs/2, the pair (x[i], x[i + hs/2]) is rotated by angle pos * theta^(-2i/hs).
 * Positions are given per token so that context parallel shards (non-contiguous) rotate correctly.
 * One instance holds the cos/sin table for positions [0, maxPositions).
 */
public final class Rope {
    public Rope(int headSize, int maxPositions, double theta) {
        throw new UnsupportedOperationException("not implemented yet");
    }

    /** x (B, T, nh, hs), rotated in place; positions (T) absolute positions of the T tokens. */
    public void forward(Tensor x, int B, int T, int nh, int[] positions) {
        throw new UnsupportedOperationException("not implemented yet");
    }

    /** dx (B, T, nh, hs), in place: the transpose of forward (rotation by the negative angle). */
    public void backward(Tensor dx, int B, int T, int nh, int[] positions) {
        throw new UnsupportedOperationException("not implemented yet");
    }
}
