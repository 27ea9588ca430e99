package fourfold.engine.cp;

import fourfold.engine.kernels.AttentionMask;

/**
 * Where the tokens of one micro-batch (B rows of T tokens, flat index b*T + t) live on the cp
 * ranks: {@code index[r]} are rank r's tokens in increasing flat order (so its K/V rows are in
 * sequence order), {@code doc} the document id of every token (the row, or the packed document;
 * ids unique over the batch and increasing along it).
 *
 * <p>Attention under context parallel sees one flat sequence of B*T tokens: key j is visible to
 * query i iff j <= i (flat index) and both are in the same document, which keeps rows apart too.
 * So a cp rank's attention call is a single "row" (B = 1) of its local tokens.
 */
public record SequenceSplit(int B, int T, int[][] index, int[] doc) {
    static SequenceSplit of(int B, int T, int[] owner, int[] doc, int cp) {
        int[] count = new int[cp];
        for (int o : owner) count[o]++;
        int[][] index = new int[cp][];
        for (int r = 0; r < cp; r++) index[r] = new int[count[r]];
        int[] at = new int[cp];
        for (int i = 0; i < owner.length; i++) index[owner[i]][at[owner[i]]++] = i;
        return new SequenceSplit(B, T, index, doc.clone());
    }

    /** The trivial split: one rank holds everything. */
    public static SequenceSplit whole(int B, int T, int[] doc) {
        return of(B, T, new int[B * T], doc, 1);
    }

    public int ranks() {
        return index.length;
    }

    public int tokens() {
        return B * T;
    }

    /** Tokens rank r holds. */
    public int count(int r) {
        return index[r].length;
    }

    /** The most tokens any rank holds (the padded row count of uneven all-gathers). */
    public int maxCount() {
        int m = 0;
        for (int[] ix : index) m = Math.max(m, ix.length);
        return m;
    }

    /** Values of a per-token array (B*T) at rank r's tokens, in its order. */
    public int[] take(int[] perToken, int r) {
        int[] ix = index[r], out = new int[ix.length];
        for (int i = 0; i < ix.length; i++) out[i] = perToken[ix[i]];
        return out;
    }

    /** Rank q's queries against rank k's keys (a ring block). */
    public AttentionMask mask(int q, int k) {
        return new AttentionMask(index[q], index[k], take(doc, q), take(doc, k));
    }

    /** Rank q's queries against the whole sequence in flat order (after an all-gather). */
    public AttentionMask gatheredMask(int q) {
        int[] all = new int[tokens()];
        for (int i = 0; i < all.length; i++) all[i] = i;
        return new AttentionMask(index[q], all, take(doc, q), doc);
    }

    /**
     * Whether any query of rank q can see any key of rank k: the first key of a document that
     * some query of q is in must come at or before that query. Blocks that fail are neither
     * computed nor sent where no later rank needs them.
     */
    public boolean sees(int q, int k) {
        int[] qi = index[q], ki = index[k];
        // for each query, is there a key of rank k in its document at or before it? Both lists are sorted.
        int j = 0;
        for (int i : qi) {
            while (j + 1 < ki.length && ki[j + 1] <= i) j++;
            if (ki.length > 0 && ki[j] <= i && doc[ki[j]] == doc[i]) return true;
        }
        return false;
    }
}
