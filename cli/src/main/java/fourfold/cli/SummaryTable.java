package fourfold.cli;

import fourfold.devices.Bytes;
import fourfold.engine.train.RunSummary;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * The figures of finished runs as a markdown table: the end of `train` (one row) and `compare`
 * (a row per layout, against the single-device run in the first row).
 */
final class SummaryTable {
    private SummaryTable() {}

    /**
     * One row: a run's summary, or why the layout could not run. {@code maxDeviation} is the
     * largest relative difference of its losses from the single-device losses (NaN: not compared).
     */
    record Row(String layout, RunSummary run, double maxDeviation, String failure) {
        static Row of(RunSummary run, double maxDeviation) {
            return new Row(run.layout(), run, maxDeviation, null);
        }

        static Row failed(String layout, String why) {
            return new Row(layout, null, Double.NaN, why);
        }
    }

    /** `train`'s end-of-run table. */
    static String format(RunSummary run, String profile) {
        return "run summary (simulated figures under --profile " + profile + "; tokens/s on this host's wall clock, after step 1):\n"
                + table(List.of(Row.of(run, Double.NaN)), null);
    }

    /** The table; with {@code single}, deviation and throughput ratio columns relative to it. */
    static String table(List<Row> rows, RunSummary single) {
        List<String> axes = axes(rows);
        List<String> head = new ArrayList<>(List.of("layout", "devices", "final loss"));
        if (single != null) head.add("max rel. dev. from single");
        head.add("tokens/s");
        if (single != null) head.add("vs single");
        head.addAll(List.of("sim step", "MFU", "pp bubble", "peak memory/device"));
        for (String a : axes) head.add(a + " bytes/step");
        StringBuilder sb = new StringBuilder();
        line(sb, head);
        line(sb, head.stream().map(h -> "---").toList());
        for (Row r : rows) {
            List<String> cells = new ArrayList<>(List.of(r.layout()));
            if (r.run() == null) {
                cells.add("cannot run: " + r.failure());
                line(sb, cells);
                continue;
            }
            RunSummary s = r.run();
            cells.add(String.valueOf(s.devices()));
            cells.add(String.format(Locale.ROOT, "%.6f", s.finalLoss()));
            if (single != null) cells.add(Double.isNaN(r.maxDeviation()) ? "" : String.format(Locale.ROOT, "%.2e", r.maxDeviation()));
            cells.add(String.format(Locale.ROOT, "%,.0f", s.tokensPerSecond()));
            if (single != null) cells.add(String.format(Locale.ROOT, "%.2f", s.tokensPerSecond() / single.tokensPerSecond()));
            cells.add(String.format(Locale.ROOT, "%.3f ms", s.simStepSeconds() * 1e3));
            cells.add(String.format(Locale.ROOT, "%.3g%%", 100 * s.mfu()));
            cells.add(Double.isNaN(s.ppBubble()) ? "-" : String.format(Locale.ROOT, "%.3f", s.ppBubble()));
            cells.add(Bytes.format(s.peakBytes()));
            Map<String, Long> bytes = s.bytesPerAxisPerStep();
            for (String a : axes) cells.add(bytes.containsKey(a) ? Bytes.format(bytes.get(a)) : "0");
            line(sb, cells);
        }
        return sb.toString();
    }

    /** The process groups any run sent bytes on: dp, pp, cp, tp first (mesh order), then groups over several axes. */
    private static List<String> axes(List<Row> rows) {
        List<String> order = List.of("dp", "pp", "cp", "tp");
        TreeSet<String> seen = new TreeSet<>((a, b) -> {
            int ia = order.indexOf(a), ib = order.indexOf(b);
            if (ia >= 0 && ib >= 0) return Integer.compare(ia, ib);
            if (ia >= 0 || ib >= 0) return ia >= 0 ? -1 : 1;
            return a.compareTo(b);
        });
        for (Row r : rows) if (r.run() != null) seen.addAll(r.run().bytesPerAxisPerStep().keySet());
        return List.copyOf(seen);
    }

    private static void line(StringBuilder sb, List<String> cells) {
        sb.append("| ").append(String.join(" | ", cells)).append(" |\n");
    }
}
