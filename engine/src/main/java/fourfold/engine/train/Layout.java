package fourfold.engine.train;

import fourfold.engine.UserError;
import fourfold.engine.model.LlamaConfig;

/**
 * How a run is laid out on devices: mesh sizes dp x pp x cp x tp (tp fastest-varying, as Llama 3
 * lays out its mesh), the ZeRO stage, micro-batches per step, sequence parallel. The layout never
 * changes what is computed, only where.
 */
public record Layout(int dp, int pp, int cp, int tp, int zero, int microBatches, boolean sequenceParallel) {

    public static Layout single() {
        return new Layout(1, 1, 1, 1, 0, 1, false);
    }

    public int devices() {
        return dp * pp * cp * tp;
    }

    /** Refuses layouts that cannot run this model and batch, with one line saying what to change. */
    public void validate(LlamaConfig model, int batch, int seq) {
        for (int[] v : new int[][]{{dp, 0}, {pp, 1}, {cp, 2}, {tp, 3}, {microBatches, 4}}) {
            if (v[0] < 1) throw new UserError("--" + new String[]{"dp", "pp", "cp", "tp", "micro-batches"}[v[1]] + " must be >= 1, got " + v[0]);
        }
        if (zero < 0 || zero > 3) throw new UserError("--zero must be 0, 1, 2 or 3, got " + zero);
        if (batch % (dp * microBatches) != 0) {
            throw new UserError("global batch " + batch + " is not divisible by dp x micro-batches = " + dp + " x " + microBatches
                    + "; choose --batch as a multiple of " + dp * microBatches);
        }
        if (pp > 1) throw new UserError("pipeline parallel (--pp " + pp + ") is not available yet; use --pp 1");
        if (cp > 1) throw new UserError("context parallel (--cp " + cp + ") is not available yet; use --cp 1");
        if (tp > 1) {
            if (model.nHeads() % tp != 0) throw new UserError("heads=" + model.nHeads() + " is not divisible by --tp " + tp);
            if (model.nKvHeads() % tp != 0) throw new UserError("kv_heads=" + model.nKvHeads() + " is not divisible by --tp " + tp);
            if (model.ffnDim() % tp != 0) throw new UserError("ffn_dim=" + model.ffnDim() + " is not divisible by --tp " + tp);
            if (model.vocabSize() % tp != 0) throw new UserError("vocab=" + model.vocabSize() + " is not divisible by --tp " + tp);
        }
        if (sequenceParallel && seq % tp != 0) {
            throw new UserError("sequence length " + seq + " is not divisible by --tp " + tp + " (needed by --sequence-parallel)");
        }
    }

    @Override
    public String toString() {
        return "dp=" + dp + " pp=" + pp + " cp=" + cp + " tp=" + tp + (zero > 0 ? " zero=" + zero : "")
                + (microBatches > 1 ? " micro-batches=" + microBatches : "") + (sequenceParallel ? " sp" : "");
    }
}
