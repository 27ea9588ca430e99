package fourfold.engine.pp;

import java.util.ArrayList;
import java.util.List;

/**
 * 1F1B (PipeDream-flush, Megatron's non-interleaved schedule): rank r runs min(m, p - r - 1)
 * warm-up forwards, then alternates one forward and one fused backward, then drains the
 * remaining backwards. At most p - r micro-batches are in flight on rank r, against m under GPipe.
 */
public final class OneFOneB implements Schedule {
    @Override
    public String name() {
        return "1f1b";
    }

    @Override
    public List<List<Action>> actions(int p, int m, int v) {
        Schedules.checkSizes(name(), p, m, v, false);
        List<List<Action>> ranks = new ArrayList<>(p);
        for (int r = 0; r < p; r++) ranks.add(Communication.around(computeOrder(p, m, r, Action.Kind.BW), p));
        return ranks;
    }

    /** Rank r's F / backward order; {@code backward} is BW here, B for the zero-bubble schedule built on it. */
    static List<Action> computeOrder(int p, int m, int r, Action.Kind backward) {
        int warmup = Math.min(m, p - r - 1);
        List<Action> out = new ArrayList<>(2 * m);
        for (int i = 0; i < warmup; i++) out.add(Action.of(Action.Kind.F, r, i));
        for (int k = 0; k < m - warmup; k++) {
            out.add(Action.of(Action.Kind.F, r, warmup + k));
            out.add(Action.of(backward, r, k));
        }
        for (int i = m - warmup; i < m; i++) out.add(Action.of(backward, r, i));
        return out;
    }
}
