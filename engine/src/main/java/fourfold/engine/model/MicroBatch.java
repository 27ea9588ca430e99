package fourfold.engine.model;

import fourfold.engine.cp.ContextShard;
import fourfold.engine.cp.SequenceSplit;
import fourfold.engine.data.Documents;
import fourfold.engine.kernels.AttentionMask;

/**
 * The tokens of one micro-batch as one rank sees them: B sequences of T tokens (inputs and
 * next-token targets, row-major (B, T)), their RoPE positions and the attention mask.
 *
 * <p>Positions are per token (B*T), or per token index (T) when every row has the same ones:
 * packed documents restart them at 0 per document. Under context parallel a rank holds one flat
 * row (B = 1) of its tokens of the whole micro-batch, {@code shard} says which (null otherwise),
 * and the mask is its queries against its own keys (the cp handle builds the others).
 */
public record MicroBatch(int B, int T, int[] inputs, int[] targets, int[] positions, AttentionMask mask, ContextShard shard) {
    public MicroBatch {
        if (inputs.length != B * T || (targets != null && targets.length != B * T) || (positions.length != T && positions.length != B * T)) {
            throw new IllegalArgumentException("micro-batch: expected " + B + "x" + T + " tokens and " + T + " or " + B * T + " positions, got "
                    + inputs.length + " inputs, " + (targets == null ? 0 : targets.length) + " targets, " + positions.length + " positions");
        }
    }

    public MicroBatch(int B, int T, int[] inputs, int[] targets, int[] positions, AttentionMask mask) {
        this(B, T, inputs, targets, positions, mask, null);
    }

    /** Plain causal sequences at positions 0..T-1. */
    public static MicroBatch causal(int B, int T, int[] inputs, int[] targets) {
        AttentionMask mask = AttentionMask.causal(T);
        return new MicroBatch(B, T, inputs, targets, mask.qPos(), mask);
    }

    /** Packed documents: causal within each document, positions restarting at 0 per document. */
    public static MicroBatch packed(int B, int T, int[] inputs, int[] targets, Documents.Packing p) {
        AttentionMask causal = AttentionMask.causal(T);
        return new MicroBatch(B, T, inputs, targets, p.position(), new AttentionMask(causal.qPos(), causal.kPos(), p.doc(), p.doc()));
    }

    /** Context-parallel rank {@code rank}'s tokens of a (B, T) micro-batch split by {@code split}; positions as {@code p} gives them. */
    public static MicroBatch shard(int[] inputs, int[] targets, Documents.Packing p, SequenceSplit split, int rank) {
        int n = split.count(rank);
        return new MicroBatch(1, n, split.take(inputs, rank), targets == null ? null : split.take(targets, rank),
                split.take(p.position(), rank), split.mask(rank, rank), new ContextShard(split, rank));
    }

    public int tokens() {
        return B * T;
    }
}
