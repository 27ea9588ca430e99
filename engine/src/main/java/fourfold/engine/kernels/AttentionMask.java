package fourfold.engine.kernels;

/**
 * Which keys a query may see: key j is visible to query i iff kPos[j] <= qPos[i] (causal on
 * absolute positions, so context parallel shards with offsets work) and, when document ids are
 * given, both belong to the same document. Positions are per token index (T and Tk); document ids
 * are per batch row and token (B*T and B*Tk), or null for no document mask.
 */
public record AttentionMask(int[] qPos, int[] kPos, int[] qDoc, int[] kDoc) {
    /** Plain causal attention over positions 0..T-1. */
    public static AttentionMask causal(int T) {
        int[] pos = new int[T];
        for (int i = 0; i < T; i++) pos[i] = i;
        return new AttentionMask(pos, pos, null, null);
    }
}
