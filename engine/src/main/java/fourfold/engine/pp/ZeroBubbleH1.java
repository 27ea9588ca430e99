package fourfold.engine.pp;

import fourfold.engine.pp.Action.Kind;

import java.util.ArrayList;
import java.util.List;

/**
 * ZB-H1 (Qi et al., "Zero Bubble Pipeline Parallelism", arXiv 2401.10241): 1F1B's order of
 * forwards and input-gradient backwards B, with the weight-gradient backwards W split off. Rank r
 * runs its first r backwards without their W, so the B's reach the earlier ranks sooner, and then
 * one W after each B, r micro-batches behind; the r deferred W's fill the cool-down, where 1F1B
 * idles. Same warm-up as 1F1B, so the same activations in flight (F done, B not yet); rank r also
 * keeps up to r + 1 micro-batches' W inputs (B done, W not yet). With F = B = W the bubble is a
 * third of 1F1B's, (p - 1) time units instead of 3 (p - 1).
 *
 * <p>With p = 1 the list is F, B, W per micro-batch (rank 0 defers nothing): the same rule at
 * every p, and it lets the split backward be checked against the fused one on one device.
 */
public final class ZeroBubbleH1 implements Schedule {
    @Override
    public String name() {
        return "zb-h1";
    }

    @Override
    public List<List<Action>> actions(int p, int m, int v) {
        Schedules.checkSizes(name(), p, m, v, false);
        List<List<Action>> ranks = new ArrayList<>(p);
        for (int r = 0; r < p; r++) ranks.add(Communication.around(withWeightGradients(OneFOneB.computeOrder(p, m, r, Kind.B), r), p));
        return ranks;
    }

    /** Inserts W(k - deferred) after the k-th B (k >= deferred), and the deferred W's at the end. */
    private static List<Action> withWeightGradients(List<Action> order, int deferred) {
        List<Action> out = new ArrayList<>(order.size() * 3 / 2);
        List<Action> backwards = new ArrayList<>();
        int weights = 0;
        for (Action a : order) {
            out.add(a);
            if (a.kind() != Kind.B) continue;
            backwards.add(a);
            if (backwards.size() > deferred) out.add(weightOf(backwards.get(weights++)));
        }
        while (weights < backwards.size()) out.add(weightOf(backwards.get(weights++)));
        return out;
    }

    private static Action weightOf(Action b) {
        return Action.of(Kind.W, b.stage(), b.microBatch());
    }
}
