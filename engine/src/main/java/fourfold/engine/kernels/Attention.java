package fourfold.engine.kernels;

import fourfold.engine.tensor.Tensor;

/**
 * Scaled dot-product attention, blocked with an online softmax (never a T x T matrix in memory),
 * with GQA, absolute-position causal masking and optional document masks.
 */
public final class Attention {
    private Attention() {}

    /**
     * q (B,T,nh,hs), k and v (B,Tk,nkv,hs) -> out (B,T,nh,hs); lse (B,nh,T) receives the
     * log-sum-exp of each query's scaled scores (for backward, and for merging partial results
     * in ring attention). A query that sees no key gets out = 0 and lse = -infinity.
     */
    public static void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, AttentionShape s, AttentionMask mask) {
        throw new UnsupportedOperationException("not implemented yet");
    }

    /** Gradients ACCUMULATED (+=) into dq (B,T,nh,hs), dk and dv (B,Tk,nkv,hs). */
    public static void backward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
                                Tensor dq, Tensor dk, Tensor dv, AttentionShape s, AttentionMask mask) {
        throw new UnsupportedOperationException("not implemented yet");
    }
}
