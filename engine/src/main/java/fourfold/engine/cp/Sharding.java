package fourfold.engine.cp;

import java.util.Arrays;

/**
 * Which tokens of a micro-batch each cp rank holds: a pure function of (B, T, documents, cp), so
 * every layout sees the same global batch and every rank knows where every token lives. Tokens of
 * row b at index t are named by their flat index b*T + t; inputs, targets, positions and document
 * ids travel with them.
 */
public enum Sharding {
    /**
     * Each row cut into 2·cp equal chunks; rank i keeps chunks i and 2·cp-1-i (Llama 3, Megatron):
     * the early chunk sees little of the causal triangle, its partner much, so every rank gets
     * about the same attention work. Needs T divisible by 2·cp.
     */
    HEADTAIL("headtail"),
    /**
     * Each document cut into 2·cp chunks paired the same way (WLB-LLM, PyTorch's per-document
     * head-tail): packing many short documents with a few long ones stays balanced. The n mod 2·cp
     * tokens left over go one each to ranks in turn (a cursor that runs on across documents),
     * into the rank's first chunk, then its second; ranks then hold a few tokens more or fewer.
     */
    PER_DOCUMENT("per-document"),
    /** Each row cut into cp contiguous pieces (for comparison: rank cp-1 does most causal work). */
    CONTIGUOUS("contiguous");

    private final String flag;

    Sharding(String flag) {
        this.flag = flag;
    }

    public String flag() {
        return flag;
    }

    public static Sharding parse(String s) {
        for (Sharding m : values()) if (m.flag.equals(s)) return m;
        return null;
    }

    /** Splits B rows of T tokens with documents {@code doc} (B*T ids, each document a run of equal ids in a row) over cp ranks. */
    public SequenceSplit split(int B, int T, int[] doc, int cp) {
        if (doc.length != B * T) throw new IllegalArgumentException("sharding: " + doc.length + " document ids for B*T = " + B * T + " tokens");
        int[] owner = new int[B * T];
        switch (this) {
            case HEADTAIL -> {
                if (T % (2 * cp) != 0) throw new IllegalArgumentException("headtail sharding: T=" + T + " is not divisible by 2*cp=" + 2 * cp);
                int c = T / (2 * cp);
                for (int i = 0; i < B * T; i++) {
                    int chunk = (i % T) / c;
                    owner[i] = Math.min(chunk, 2 * cp - 1 - chunk);
                }
            }
            case CONTIGUOUS -> {
                for (int b = 0; b < B; b++) {
                    for (int r = 0; r < cp; r++) {
                        int from = (int) ((long) T * r / cp), to = (int) ((long) T * (r + 1) / cp);
                        Arrays.fill(owner, b * T + from, b * T + to, r);
                    }
                }
            }
            case PER_DOCUMENT -> {
                int cursor = 0;
                for (int start = 0; start < B * T; ) {
                    int end = start + 1;
                    while (end < B * T && end % T != 0 && doc[end] == doc[start]) end++;
                    cursor = perDocument(owner, start, end - start, cp, cursor);
                    start = end;
                }
            }
        }
        return SequenceSplit.of(B, T, owner, doc, cp);
    }

    /** Owners of one document's n tokens from flat index {@code start}; returns the advanced remainder cursor. */
    private static int perDocument(int[] owner, int start, int n, int cp, int cursor) {
        int chunks = 2 * cp, base = n / chunks, rem = n % chunks;
        int[] length = new int[chunks];
        Arrays.fill(length, base);
        for (int j = 0; j < rem; j++) {
            int r = (cursor + j) % cp;
            length[j < cp ? r : chunks - 1 - r]++;
        }
        int t = start;
        for (int c = 0; c < chunks; c++) {
            int r = Math.min(c, chunks - 1 - c);
            for (int k = 0; k < length[c]; k++) owner[t++] = r;
        }
        return (cursor + rem) % cp;
    }
}
