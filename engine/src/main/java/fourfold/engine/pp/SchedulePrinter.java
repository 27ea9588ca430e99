package fourfold.engine.pp;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Text tables of a schedule, for --print-schedule and the docs. Pure: returns the text. */
public final class SchedulePrinter {
    private SchedulePrinter() {}

    /**
     * What --print-schedule shows: the schedule's lists for (p, m, v), checked by the validator,
     * and its dry run with equal costs (bubble, activations held, the time-axis view).
     */
    public static String report(Schedule schedule, int p, int m, int v) {
        List<List<Action>> lists = schedule.actions(p, m, v);
        ScheduleValidator.check(lists, p, m, v);
        DryRun.Result run = DryRun.run(lists, p, v, DryRun.Costs.EQUAL);
        return String.format(Locale.ROOT, "schedule %s: pp %d, micro-batches %d, virtual stages %d%n", schedule.name(), p, m, v)
                + String.format(Locale.ROOT, "dry run with F = B = W = 1, BW = 2: bubble %.4f (mean over ranks), most activations held on rank 0: %d %s%n",
                run.meanBubble(), run.peakActivationsPerRank()[0], v > 1 ? "(micro-batch, chunk) pairs" : "micro-batches")
                + "\nactions, in each rank's order:\n" + table(lists, v, false)
                + "\non the dry run's time axis (one column per unit, '.': idle):\n" + timeline(run, v);
    }

    /**
     * Each rank's list as a row, in run order: {@code rank 0 | F0 F1 B0 W0 ...}. The stage is a
     * suffix when a rank holds several (v > 1: F3.s5); sends and receives (sF, rF, sB, rB) only
     * when {@code communication} is set.
     */
    public static String table(List<List<Action>> ranks, int v, boolean communication) {
        List<List<String>> rows = new ArrayList<>();
        for (List<Action> list : ranks)
            rows.add(list.stream().filter(a -> communication || a.kind().isCompute()).map(a -> a.label(v > 1)).toList());
        return format(rows);
    }

    /**
     * The dry run's timelines on a time axis, one column per time unit, "." where the rank idles:
     * the bubbles as the papers draw them. Needs whole-number times (integer costs, latency).
     */
    public static String timeline(DryRun.Result result, int v) {
        List<List<String>> rows = new ArrayList<>();
        int units = whole(result.phaseEnd());
        for (List<DryRun.Slot> slots : result.timelines()) {
            List<String> cells = new ArrayList<>(units);
            for (int t = 0; t < units; t++) cells.add(".");
            for (DryRun.Slot s : slots)
                for (int t = whole(s.start()); t < whole(s.end()); t++) cells.set(t, s.action().label(v > 1));
            rows.add(cells);
        }
        return format(rows);
    }

    private static int whole(double t) {
        if (t != Math.rint(t)) throw new IllegalArgumentException("timeline needs whole-number times, got " + t);
        return (int) t;
    }

    private static String format(List<List<String>> rows) {
        int width = rows.stream().flatMap(List::stream).mapToInt(String::length).max().orElse(1);
        String rankWidth = "%-" + ("rank " + (rows.size() - 1)).length() + "s |";
        StringBuilder out = new StringBuilder();
        for (int r = 0; r < rows.size(); r++) {
            out.append(String.format(rankWidth, "rank " + r));
            for (String cell : rows.get(r)) out.append(' ').append(String.format("%-" + width + "s", cell));
            out.append('\n');
        }
        return out.toString().replaceAll(" +\n", "\n");
    }
}
