package fourfold.engine.kernels;

import fourfold.engine.tensor.Tensor;

/**
 * Sizes of one attention call: B sequences, T queries and Tk keys per sequence, nh query heads,
 * nkv key/value heads (GQA: query head h reads kv head h / (nh / nkv)), head size hs.
 */
public record AttentionShape(int B, int T, int Tk, int nh, int nkv, int hs) {
    public AttentionShape {
        // The record's fields are not assigned yet here, so the message is built from the parameters.
        if (B <= 0 || T <= 0 || Tk <= 0 || nh <= 0 || nkv <= 0 || hs <= 0) {
            throw new IllegalArgumentException("attention: sizes must be positive, got B=" + B + ", T=" + T + ", Tk=" + Tk
                    + ", nh=" + nh + ", nkv=" + nkv + ", hs=" + hs);
        }
        if (nh % nkv != 0) {
            throw new IllegalArgumentException("attention: nh=" + nh + " is not divisible by nkv=" + nkv);
        }
    }

    /** Query heads per kv head (1 without GQA). */
    public int group() {
        return nh / nkv;
    }

    /** Refuses q/out (B,T,nh,hs), k/v (B,Tk,nkv,hs) or lse (B,nh,T) of another shape, naming {@code op}. */
    void requireQuery(String op, Tensor t) {
        require(op, t, B, T, nh, hs);
    }

    void requireKeyValue(String op, Tensor t) {
        require(op, t, B, Tk, nkv, hs);
    }

    void requireLse(String op, Tensor t) {
        require(op, t, B, nh, T);
    }

    private void require(String op, Tensor t, int... expected) {
        boolean ok = t.rank() == expected.length;
        for (int i = 0; ok && i < expected.length; i++) ok = t.dim(i) == expected[i];
        if (!ok) t.requireShape(op + " " + this, expected); // the message is built only on failure
    }
}
