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

    /** Whether key j of batch row b is visible to query i (the definition the kernels implement). */
    public boolean visible(AttentionShape s, int b, int i, int j) {
        return kPos[j] <= qPos[i] && (qDoc == null || qDoc[b * s.T() + i] == kDoc[b * s.Tk() + j]);
    }

    /** Refuses arrays whose lengths do not match {@code s}, naming {@code op} and what was expected. */
    public void validate(String op, AttentionShape s) {
        if (qPos == null || kPos == null) {
            throw new IllegalArgumentException(op + ": mask positions must not be null (qPos " + (qPos == null ? "null" : "set")
                    + ", kPos " + (kPos == null ? "null" : "set") + ")");
        }
        if (qPos.length != s.T()) {
            throw new IllegalArgumentException(op + ": mask qPos has " + qPos.length + " entries, expected T=" + s.T() + " for " + s);
        }
        if (kPos.length != s.Tk()) {
            throw new IllegalArgumentException(op + ": mask kPos has " + kPos.length + " entries, expected Tk=" + s.Tk() + " for " + s);
        }
        if ((qDoc == null) != (kDoc == null)) {
            throw new IllegalArgumentException(op + ": document mask needs both qDoc and kDoc (qDoc " + (qDoc == null ? "null" : "set")
                    + ", kDoc " + (kDoc == null ? "null" : "set") + ")");
        }
        if (qDoc != null && qDoc.length != s.B() * s.T()) {
            throw new IllegalArgumentException(op + ": mask qDoc has " + qDoc.length + " entries, expected B*T=" + s.B() * s.T() + " for " + s);
        }
        if (kDoc != null && kDoc.length != s.B() * s.Tk()) {
            throw new IllegalArgumentException(op + ": mask kDoc has " + kDoc.length + " entries, expected B*Tk=" + s.B() * s.Tk() + " for " + s);
        }
    }
}
