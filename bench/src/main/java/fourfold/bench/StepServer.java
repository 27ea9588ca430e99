package fourfold.bench;

import fourfold.devices.Bytes;
import fourfold.devices.MemoryTag;
import fourfold.engine.train.StepMetrics;
import fourfold.engine.train.Trainer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * One side of an interleaved training benchmark (scripts/bench/interleave.py): trains a layout in
 * bursts of N steps and, after each burst, prints {@code burst SECONDS TOKENS} (the summed wall
 * time of the burst's steps as the trainer measured them) and blocks until the driver writes
 * {@code go} (next burst) or {@code stop} on stdin. While it blocks, the other side of the
 * comparison runs alone: on a machine whose speed drifts over seconds, bursts of two programs
 * taken back to back see the same machine, so their ratio is robust where separate runs are not.
 *
 * <pre>
 * java ... -cp bench/target/benchmarks.jar fourfold.bench.StepServer PRESET LAYOUT BURST_STEPS
 * LAYOUT as in {@link LayoutSweep}, e.g. dp1-t2, dp2-z3-t1
 * </pre>
 * On {@code stop} it prints {@code memory ...} (per-device peaks by tag, the largest over ranks) and exits.
 */
public final class StepServer {
    public static void main(String[] args) {
        if (args.length != 3) {
            System.err.println("usage: StepServer PRESET LAYOUT BURST_STEPS   (e.g. tiny dp1-t2 10)");
            System.exit(2);
        }
        LayoutSweep.Run run = LayoutSweep.Run.parse(args[1]);
        int burst = Integer.parseInt(args[2]);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        // The run is long enough never to end by itself; the driver stops it.
        try (Trainer t = run.trainer(LayoutSweep.options(args[0], 1_000_000), "cpu-local")) {
            Burst b = new Burst(burst, () -> {
                System.out.println("memory " + memory(t));
                System.out.flush();
                System.exit(0);
            }, in);
            t.train(b::add, null, 0);
        }
    }

    /** Sums step times; at the end of every burst reports and waits for the driver. */
    private static final class Burst {
        private final int steps;
        private final Runnable stop;
        private final BufferedReader in;
        private int done;
        private double seconds, tokens;

        Burst(int steps, Runnable stop, BufferedReader in) {
            this.steps = steps;
            this.stop = stop;
            this.in = in;
        }

        void add(StepMetrics m) {
            seconds += m.stepSeconds();
            tokens += m.tokensPerSecond() * m.stepSeconds();
            if (++done < steps) return;
            System.out.printf(Locale.ROOT, "burst %.6f %.0f%n", seconds, tokens);
            System.out.flush();
            done = 0;
            seconds = tokens = 0;
            String line;
            try {
                line = in.readLine();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            if (line == null || line.trim().equals("stop")) stop.run();
        }
    }

    private static String memory(Trainer t) {
        long[] peak = LayoutSweep.peaks(t);
        StringBuilder sb = new StringBuilder();
        for (MemoryTag tag : MemoryTag.values()) {
            sb.append(tag.name().toLowerCase(Locale.ROOT)).append('=').append(Bytes.format(peak[tag.ordinal()]).replace(" ", "")).append(' ');
        }
        return sb.toString().trim();
    }
}
