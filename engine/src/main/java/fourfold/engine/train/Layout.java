package fourfold.engine.train;

import fourfold.engine.UserError;
import fourfold.engine.cp.Algorithm;
import fourfold.engine.cp.Sharding;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.pp.PipelineOptions;
import fourfold.engine.pp.Schedules;
import fourfold.engine.pp.StageSplit;

import java.util.ArrayList;
import java.util.List;

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

    public int devices() {
        return dp * pp * cp * tp;
    }

    /**
     * Refuses layouts that cannot run this model and batch, naming every reason at once (a user
     * who fixes one should not discover the next on the following try).
     */
    public void validate(LlamaConfig model, int batch, int seq) {
        validate(model, batch, seq, false);
    }

    /** As {@link #validate(LlamaConfig, int, int)}, {@code documents} telling whether --doc-mask packs documents. */
    public void validate(LlamaConfig model, int batch, int seq, boolean documents) {
        List<String> problems = problems(model, batch, seq, documents);
        if (problems.size() == 1) throw new UserError(problems.get(0));
        if (!problems.isEmpty()) {
            StringBuilder m = new StringBuilder("layout " + this + " cannot run, for " + problems.size() + " reasons:");
            for (int i = 0; i < problems.size(); i++) m.append(" (").append(i + 1).append(") ").append(problems.get(i)).append(i + 1 < problems.size() ? ";" : "");
            throw new UserError(m.toString());
        }
    }

    /** Every reason this layout cannot run this model and batch of unpacked sequences; empty when it can run. */
    public List<String> problems(LlamaConfig model, int batch, int seq) {
        return problems(model, batch, seq, false);
    }

    /** Every reason this layout cannot run this model and batch, each saying what to change; empty when it can run. */
    public List<String> problems(LlamaConfig model, int batch, int seq, boolean documents) {
        List<String> problems = new ArrayList<>();
        for (int[] v : new int[][]{{dp, 0}, {pp, 1}, {cp, 2}, {tp, 3}, {microBatches, 4}}) {
            if (v[0] < 1) problems.add("--" + new String[]{"dp", "pp", "cp", "tp", "micro-batches"}[v[1]] + " must be >= 1, got " + v[0]);
        }
        if (pipeline.virtualStages() < 1) problems.add("--virtual-stages must be >= 1, got " + pipeline.virtualStages());
        if (!problems.isEmpty()) return problems; // the checks below divide by these sizes
        if (zero < 0 || zero > 3) problems.add("--zero must be 0, 1, 2 or 3, got " + zero);
        if (batch % (dp * microBatches) != 0) {
            problems.add("global batch " + batch + " is not divisible by dp x micro-batches = " + dp + " x " + microBatches
                    + "; choose --batch as a multiple of " + dp * microBatches + ", or --micro-batches dividing " + batch / dp + " (the per-dp-rank batch)");
        }
        // The stage split and the schedule state their own constraints.
        collect(problems, () -> StageSplit.of(model, stages(), pipeline.stageLayers()));
        collect(problems, () -> Schedules.named(pipeline.schedule()).actions(pp, microBatches, pipeline.virtualStages()));
        if (cp > 1) cpProblems(problems, batch, seq, documents);
        if (tp > 1) {
            // Each tp rank holds whole heads, MLP columns and vocabulary rows.
            requireDivisible(problems, model.nHeads(), "attention heads (num_attention_heads)");
            requireDivisible(problems, model.nKvHeads(), "key/value heads (num_key_value_heads)");
            requireDivisible(problems, model.ffnDim(), "MLP width (intermediate_size)");
            requireDivisible(problems, model.vocabSize(), "vocabulary (vocab_size)");
        }
        if (sequenceParallel && seq % tp != 0) {
            problems.add("sequence length " + seq + " is not divisible by --tp " + tp + " (needed by --sequence-parallel, which splits"
                    + " the sequence over the tp ranks); choose --seq as a multiple of " + tp + " or drop --sequence-parallel");
        }
        return problems;
    }

    private static void collect(List<String> problems, Runnable check) {
        try {
            check.run();
        } catch (UserError e) {
            problems.add(e.getMessage());
        }
    }

    private void cpProblems(List<String> problems, int batch, int seq, boolean documents) {
        if (cpSharding == Sharding.HEADTAIL && seq % (2 * cp) != 0) {
            problems.add("--seq " + seq + " cannot be cut into 2 x --cp = " + 2 * cp + " chunks for --cp-shard headtail; choose --seq as a multiple of "
                    + 2 * cp + " (e.g. " + Math.max(2 * cp, seq / (2 * cp) * (2 * cp)) + ") or --cp-shard contiguous");
        }
        if (cpSharding == Sharding.CONTIGUOUS && seq % cp != 0) {
            problems.add("--seq " + seq + " cannot be cut into --cp " + cp + " pieces for --cp-shard contiguous; choose --seq as a multiple of " + cp);
        }
        if (cpSharding == Sharding.PER_DOCUMENT && !documents) {
            problems.add("--cp-shard per-document shards the documents of --doc-mask; add --doc-mask or use --cp-shard headtail");
        }
        if (cpSharding == Sharding.PER_DOCUMENT && sequenceParallel) {
            problems.add("--cp-shard per-document gives cp ranks uneven token counts, which --sequence-parallel cannot split over --tp "
                    + tp + "; use --cp-shard headtail or drop --sequence-parallel");
        }
        long local = (long) batch / (dp * microBatches) * seq / cp; // tokens of one micro-batch on one cp rank
        if (sequenceParallel && local % tp != 0) {
            problems.add("a cp rank's " + local + " tokens per micro-batch cannot be split over --tp " + tp
                    + " by --sequence-parallel; choose --seq or --batch so that batch/(dp x micro-batches) x seq/cp is a multiple of " + tp);
        }
    }

    private void requireDivisible(List<String> problems, int n, String what) {
        if (n % tp != 0) {
            problems.add("the model's " + n + " " + what + " cannot be split over --tp " + tp + "; choose a --tp that divides " + n);
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
