package fourfold.engine.pp;

import fourfold.engine.UserError;
import fourfold.engine.pp.Action.Kind;

import java.util.ArrayList;
import java.util.List;

/**
 * Interleaved 1F1B (Megatron-LM's virtual pipeline, Narayanan et al. 2021): each rank holds v
 * chunks, global stage s on rank s % p. Ranks walk the m·v (chunk, micro-batch) pairs in groups
 * of p micro-batches: forwards through chunk 0 for micro-batches [0, p), chunk 1 for the same p,
 * ..., then the next p micro-batches; backwards in the same order with the chunks reversed. Rank r
 * warms up with 2 (p - r - 1) + (v - 1) p forwards, then alternates one forward and one
 * backward, then drains. As in Megatron, m must be a multiple of p when v > 1; with v = 1 this is
 * 1F1B.
 *
 * <p>Megatron warms up with all m·v forwards when m = p. With eager sends the general rule also
 * progresses at m = p, with the same bubble (the dry-run tests check both), and later ranks hold
 * fewer activations (p = 4, v = 2: rank 3 holds 5 chunk activations instead of 8), so this keeps
 * the general rule.
 */
public final class Interleaved implements Schedule {
    @Override
    public String name() {
        return "interleaved";
    }

    @Override
    public List<List<Action>> actions(int p, int m, int v) {
        Schedules.checkSizes(name(), p, m, v, true);
        if (v == 1) return new OneFOneB().actions(p, m, 1);
        if (p == 1)
            throw new UserError("--virtual-stages " + v + " needs --pp >= 2 (interleaving chunks on one rank gains nothing); use --virtual-stages 1");
        if (m % p != 0)
            throw new UserError("--schedule interleaved needs --micro-batches to be a multiple of --pp " + p + ", got " + m
                    + "; use --micro-batches " + (m / p + 1) * p);
        List<List<Action>> ranks = new ArrayList<>(p);
        for (int r = 0; r < p; r++) ranks.add(Communication.around(computeOrder(p, m, v, r), p * v));
        return ranks;
    }

    private static List<Action> computeOrder(int p, int m, int v, int r) {
        int total = m * v;
        int warmup = Math.min(total, 2 * (p - r - 1) + (v - 1) * p);
        List<Action> out = new ArrayList<>(2 * total);
        for (int k = 0; k < warmup; k++) out.add(forward(p, v, r, k));
        for (int k = 0; k < total - warmup; k++) {
            out.add(forward(p, v, r, warmup + k));
            out.add(backward(p, v, r, k));
        }
        for (int k = total - warmup; k < total; k++) out.add(backward(p, v, r, k));
        return out;
    }

    /** The k-th forward of rank r: chunk (k mod p·v) / p, micro-batch (k / p·v)·p + k mod p. */
    private static Action forward(int p, int v, int r, int k) {
        return Action.of(Kind.F, chunkOf(p, v, k, true) * p + r, microBatchOf(p, v, k));
    }

    private static Action backward(int p, int v, int r, int k) {
        return Action.of(Kind.BW, chunkOf(p, v, k, false) * p + r, microBatchOf(p, v, k));
    }

    private static int chunkOf(int p, int v, int k, boolean forward) {
        int chunk = (k % (p * v)) / p;
        return forward ? chunk : v - 1 - chunk;
    }

    private static int microBatchOf(int p, int v, int k) {
        return (k / (p * v)) * p + k % p;
    }
}
