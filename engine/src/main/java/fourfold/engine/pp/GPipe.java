package fourfold.engine.pp;

import java.util.ArrayList;
import java.util.List;

/** GPipe: every rank runs the forwards of all m micro-batches, then their fused backwards in the same order. */
public final class GPipe implements Schedule {
    @Override
    public String name() {
        return "gpipe";
    }

    @Override
    public List<List<Action>> actions(int p, int m, int v) {
        Schedules.checkSizes(name(), p, m, v, false);
        List<List<Action>> ranks = new ArrayList<>(p);
        for (int r = 0; r < p; r++) {
            List<Action> compute = new ArrayList<>(2 * m);
            for (int i = 0; i < m; i++) compute.add(Action.of(Action.Kind.F, r, i));
            for (int i = 0; i < m; i++) compute.add(Action.of(Action.Kind.BW, r, i));
            ranks.add(Communication.around(compute, p));
        }
        return ranks;
    }
}
