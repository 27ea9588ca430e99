package fourfold.engine.model;

import fourfold.engine.kernels.AttentionMask;

/**
 * The tokens of one micro-batch as one rank sees them: B sequences of T tokens (inputs and
 * next-token targets, row-major (B, T)), their absolute positions (for RoPE and the causal mask)
 * and the attention mask. Context parallel hands each rank a non-contiguous subset of positions.
 */
public record MicroBatch(int B, int T, int[] inputs, int[] targets, int[] positions, AttentionMask mask) {
    public MicroBatch {
        if (inputs.length != B * T || (targets != null && targets.length != B * T) || positions.length != T) {
            throw new IllegalArgumentException("micro-batch: expected " + B + "x" + T + " tokens and " + T + " positions, got "
                    + inputs.length + " inputs, " + (targets == null ? 0 : targets.length) + " targets, " + positions.length + " positions");
        }
    }

    /** Plain causal sequences at positions 0..T-1. */
    public static MicroBatch causal(int B, int T, int[] inputs, int[] targets) {
        AttentionMask mask = AttentionMask.causal(T);
        return new MicroBatch(B, T, inputs, targets, mask.qPos(), mask);
    }

    public int tokens() {
        return B * T;
    }
}
