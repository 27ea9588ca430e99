package fourfold.engine.kernels;

/**
 * Sizes of one attention call: B sequences, T queries and Tk keys per sequence, nh query heads,
 * nkv key/value heads (GQA: query head h reads kv head h / (nh / nkv)), head size hs.
 */
public record AttentionShape(int B, int T, int Tk, int nh, int nkv, int hs) {
    public AttentionShape {
        if (B <= 0 || T <= 0 || Tk <= 0 || nh <= 0 || nkv <= 0 || hs <= 0) {
            throw new IllegalArgumentException("attention: sizes must be positive, got " + this);
        }
        if (nh % nkv != 0) {
            throw new IllegalArgumentException("attention: nh=" + nh + " is not divisible by nkv=" + nkv);
        }
    }
}
