package fourfold.engine.train;

import fourfold.engine.UserError;
import fourfold.engine.model.LlamaConfig;

import java.util.ArrayList;
import java.util.List;

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

    /**
     * Refuses layouts that cannot run this model and batch, naming every reason at once (a user
     * who fixes one should not discover the next on the following try).
     */
    public void validate(LlamaConfig model, int batch, int seq) {
        List<String> problems = problems(model, batch, seq);
        if (problems.size() == 1) throw new UserError(problems.get(0));
        if (!problems.isEmpty()) {
            StringBuilder m = new StringBuilder("layout " + this + " cannot run, for " + problems.size() + " reasons:");
            for (int i = 0; i < problems.size(); i++) m.append(" (").append(i + 1).append(") ").append(problems.get(i)).append(i + 1 < problems.size() ? ";" : "");
            throw new UserError(m.toString());
        }
    }

    /** Every reason this layout cannot run this model and batch, each saying what to change; empty when it can run. */
    public List<String> problems(LlamaConfig model, int batch, int seq) {
        List<String> problems = new ArrayList<>();
        for (int[] v : new int[][]{{dp, 0}, {pp, 1}, {cp, 2}, {tp, 3}, {microBatches, 4}}) {
            if (v[0] < 1) problems.add("--" + new String[]{"dp", "pp", "cp", "tp", "micro-batches"}[v[1]] + " must be >= 1, got " + v[0]);
        }
        if (!problems.isEmpty()) return problems; // the checks below divide by these sizes
        if (zero < 0 || zero > 3) problems.add("--zero must be 0, 1, 2 or 3, got " + zero);
        if (batch % (dp * microBatches) != 0) {
            problems.add("global batch " + batch + " is not divisible by dp x micro-batches = " + dp + " x " + microBatches
                    + "; choose --batch as a multiple of " + dp * microBatches);
        }
        if (pp > 1) problems.add("pipeline parallel (--pp " + pp + ") is not available yet; use --pp 1");
        if (cp > 1) problems.add("context parallel (--cp " + cp + ") is not available yet; use --cp 1");
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

    private void requireDivisible(List<String> problems, int n, String what) {
        if (n % tp != 0) {
            problems.add("the model's " + n + " " + what + " cannot be split over --tp " + tp + "; choose a --tp that divides " + n);
        }
    }

    @Override
    public String toString() {
        return "dp=" + dp + " pp=" + pp + " cp=" + cp + " tp=" + tp + (zero > 0 ? " zero=" + zero : "")
                + (microBatches > 1 ? " micro-batches=" + microBatches : "") + (sequenceParallel ? " sp" : "");
    }
}
