package fourfold.engine.train;

import fourfold.devices.Axis;
import fourfold.engine.UserError;
import fourfold.engine.cp.Algorithm;
import fourfold.engine.cp.Sharding;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.pp.PipelineOptions;
import fourfold.engine.pp.Schedules;
import fourfold.engine.pp.StageSplit;

/**
 * How a run is laid out on devices: mesh sizes dp x pp x cp x tp (tp fastest-varying, as Llama 3
 * lays out its mesh), the ZeRO stage, micro-batches per step, sequence parallel, how the
 * pipeline runs, and how context parallel shards the sequence and moves K/V. The layout never
 * changes what is computed, only where.
 */
public record Layout(int dp, int pp, int cp, int tp, int zero, int microBatches, boolean sequenceParallel, PipelineOptions pipeline,
                     Algorithm cpAlgorithm, Sharding cpSharding) {

    /** The defaults of --pp and --cp: 1f1b with balanced stages; all-gather K/V (Llama 3's choice), head-tail sharding. */
    public Layout(int dp, int pp, int cp, int tp, int zero, int microBatches, boolean sequenceParallel) {
        this(dp, pp, cp, tp, zero, microBatches, sequenceParallel, PipelineOptions.DEFAULT, Algorithm.ALLGATHER, Sharding.HEADTAIL);
    }

    public static Layout single() {
        return new Layout(1, 1, 1, 1, 0, 1, false);
    }

    public Layout withPipeline(PipelineOptions options) {
        return new Layout(dp, pp, cp, tp, zero, microBatches, sequenceParallel, options, cpAlgorithm, cpSharding);
    }

    /** This layout with context parallel over {@code cp} ranks, moving K/V by {@code algorithm}, sharded by {@code sharding}. */
    public Layout withCp(int cp, Algorithm algorithm, Sharding sharding) {
        return new Layout(dp, pp, cp, tp, zero, microBatches, sequenceParallel, pipeline, algorithm, sharding);
    }

    /** Global pipeline stages: pp ranks x chunks per rank. */
    public int stages() {
        return pp * pipeline.virtualStages();
    }

    /** The size of one mesh axis. */
    public int size(Axis axis) {
        return switch (axis) {
            case DP -> dp;
            case PP -> pp;
            case CP -> cp;
            case TP -> tp;
        };
    }

    public int devices() {
        return dp * pp * cp * tp;
    }

    /** Refuses layouts that cannot run this model and batch, with one line saying what to change. */
    public void validate(LlamaConfig model, int batch, int seq) {
        validate(model, batch, seq, false);
    }

    /** As {@link #validate(LlamaConfig, int, int)}, {@code documents} telling whether --doc-mask packs documents. */
    public void validate(LlamaConfig model, int batch, int seq, boolean documents) {
        for (int[] v : new int[][]{{dp, 0}, {pp, 1}, {cp, 2}, {tp, 3}, {microBatches, 4}}) {
            if (v[0] < 1) throw new UserError("--" + new String[]{"dp", "pp", "cp", "tp", "micro-batches"}[v[1]] + " must be >= 1, got " + v[0]);
        }
        if (zero < 0 || zero > 3) throw new UserError("--zero must be 0, 1, 2 or 3, got " + zero);
        if (batch % (dp * microBatches) != 0) {
            throw new UserError("global batch " + batch + " is not divisible by dp x micro-batches = " + dp + " x " + microBatches
                    + "; choose --batch as a multiple of " + dp * microBatches + ", or --micro-batches dividing " + batch / dp + " (the per-dp-rank batch)");
        }
        if (pipeline.virtualStages() < 1) throw new UserError("--virtual-stages must be >= 1, got " + pipeline.virtualStages());
        StageSplit.of(model, stages(), pipeline.stageLayers());
        Schedules.named(pipeline.schedule()).actions(pp, microBatches, pipeline.virtualStages()); // the schedule's own constraints
        if (cp > 1) validateCp(batch, seq, documents);
        if (tp > 1) {
            // Each tp rank holds whole heads, MLP columns and vocabulary rows.
            requireDivisible(model.nHeads(), "attention heads (num_attention_heads)");
            requireDivisible(model.nKvHeads(), "key/value heads (num_key_value_heads)");
            requireDivisible(model.ffnDim(), "MLP width (intermediate_size)");
            requireDivisible(model.vocabSize(), "vocabulary (vocab_size)");
        }
        if (sequenceParallel && seq % tp != 0) {
            throw new UserError("sequence length " + seq + " is not divisible by --tp " + tp + " (needed by --sequence-parallel, which splits"
                    + " the sequence over the tp ranks); choose --seq as a multiple of " + tp + " or drop --sequence-parallel");
        }
    }

    private void validateCp(int batch, int seq, boolean documents) {
        if (cpSharding == Sharding.HEADTAIL && seq % (2 * cp) != 0) {
            throw new UserError("--seq " + seq + " cannot be cut into 2 x --cp = " + 2 * cp + " chunks for --cp-shard headtail; choose --seq as a multiple of "
                    + 2 * cp + " (e.g. " + Math.max(2 * cp, seq / (2 * cp) * (2 * cp)) + ") or --cp-shard contiguous");
        }
        if (cpSharding == Sharding.CONTIGUOUS && seq % cp != 0) {
            throw new UserError("--seq " + seq + " cannot be cut into --cp " + cp + " pieces for --cp-shard contiguous; choose --seq as a multiple of " + cp);
        }
        if (cpSharding == Sharding.PER_DOCUMENT && !documents) {
            throw new UserError("--cp-shard per-document shards the documents of --doc-mask; add --doc-mask or use --cp-shard headtail");
        }
        if (cpSharding == Sharding.PER_DOCUMENT && sequenceParallel) {
            throw new UserError("--cp-shard per-document gives cp ranks uneven token counts, which --sequence-parallel cannot split over --tp "
                    + tp + "; use --cp-shard headtail or drop --sequence-parallel");
        }
        long local = (long) batch / (dp * microBatches) * seq / cp; // tokens of one micro-batch on one cp rank
        if (sequenceParallel && local % tp != 0) {
            throw new UserError("a cp rank's " + local + " tokens per micro-batch cannot be split over --tp " + tp
                    + " by --sequence-parallel; choose --seq or --batch so that batch/(dp x micro-batches) x seq/cp is a multiple of " + tp);
        }
    }

    private void requireDivisible(int n, String what) {
        if (n % tp != 0) {
            throw new UserError("the model's " + n + " " + what + " cannot be split over --tp " + tp + "; choose a --tp that divides " + n);
        }
    }

    @Override
    public String toString() {
        return "dp=" + dp + " pp=" + pp + " cp=" + cp + " tp=" + tp + (cp > 1 ? " " + cpAlgorithm.flag() + "/" + cpSharding.flag() : "")
                + (zero > 0 ? " zero=" + zero : "")
                + (microBatches > 1 ? " micro-batches=" + microBatches : "") + (sequenceParallel ? " sp" : "")
                + (pp > 1 ? " " + pipeline : "");
    }
}
