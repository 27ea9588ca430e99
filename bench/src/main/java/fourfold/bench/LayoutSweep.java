package fourfold.bench;

import fourfold.devices.Bytes;
import fourfold.devices.MemoryTag;
import fourfold.engine.cp.Algorithm;
import fourfold.engine.cp.Sharding;
import fourfold.engine.data.Sampling;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.pp.PipelineOptions;
import fourfold.engine.train.Layout;
import fourfold.engine.train.LrSchedule;
import fourfold.engine.train.StepMetrics;
import fourfold.engine.train.TrainOptions;
import fourfold.engine.train.Trainer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Trains a preset for a few steps under several layouts and prints, per layout, the median wall
 * tokens/s, the median simulated step time under a hardware profile, and the per-device peak
 * memory by tag. A whole training step is too coarse for JMH's harness, so this is a plain main:
 * warm-up steps are dropped and medians reported.
 *
 * <pre>
 * java ... -cp bench/target/benchmarks.jar fourfold.bench.LayoutSweep PRESET STEPS WARMUP PROFILE LAYOUT...
 * LAYOUT: dpN, tpN, cpN, zN (ZeRO stage), sp, mbN (micro-batches), tN (threads per device),
 *         ring / allgather, headtail / contiguous / perdoc (cp), joined by '-',
 *         e.g. dp2-z1-t1  tp2-sp-t1  dp1-t2  cp2-ring-contiguous-t1
 * -Dbatch, -Dseq, -DmaxSeq (the preset with a longer RoPE table), -DdocMask=true, -DdeviceMemory=2g
 * </pre>
 */
public final class LayoutSweep {
    public static void main(String[] args) {
        if (args.length < 5) {
            System.err.println("usage: LayoutSweep PRESET STEPS WARMUP PROFILE LAYOUT...  (e.g. tiny 40 10 h100-nvlink-ib dp1-t2 dp2-t1)");
            System.exit(2);
        }
        int steps = Integer.parseInt(args[1]), warmup = Integer.parseInt(args[2]);
        String profile = args[3];
        TrainOptions options = options(args[0], steps);
        int batch = options.batch(), seq = options.seq();
        System.out.printf(Locale.ROOT, "preset %s, batch %d x %d, %d steps (first %d dropped), profile %s, %d cores%n%n",
                args[0], batch, seq, steps, warmup, profile, Runtime.getRuntime().availableProcessors());
        System.out.println("| layout | devices x threads | tokens/s (median) | sim step (median) | peak params | peak grads | peak optimizer | peak activations | peak total |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        for (int i = 4; i < args.length; i++) run(options, args[i], warmup, profile);
    }

    /** The benchmark's training options: the preset, batch 12 (or -Dbatch), its own sequence length (or -Dseq). */
    static TrainOptions options(String preset, int steps) {
        LlamaConfig p = LlamaConfig.preset(preset);
        LlamaConfig model = Integer.getInteger("maxSeq") == null ? p
                : LlamaConfig.of(p.vocabSize(), p.dim(), p.nLayers(), p.nHeads(), p.nKvHeads(), p.ffnDim(), Integer.getInteger("maxSeq"));
        int batch = Integer.getInteger("batch", 12), seq = Integer.getInteger("seq", model.maxSeq());
        return new TrainOptions(model, null, steps, batch, seq, 1e-3, 1e-4, LrSchedule.Kind.COSINE, 10,
                0.1, 1.0, 0.9, 0.99, 1e-8, 1337, Sampling.RANDOM, 0, 1,
                Boolean.getBoolean("docMask") ? fourfold.engine.data.Documents.standard() : null);
    }

    /** A layout spec such as dp2-z1-t1 or dp2-pp2-cp2-tp2-z1-mb2-interleaved-v2-ring-sp-t1: the layout and the worker threads per device. */
    record Run(Layout layout, int threads) {
        static Run parse(String spec) {
            int dp = 1, pp = 1, tp = 1, cp = 1, zero = 0, mb = 1, threads = 1, v = 1;
            String schedule = "1f1b";
            Algorithm algorithm = Algorithm.ALLGATHER;
            Sharding sharding = Sharding.HEADTAIL;
            boolean sp = false;
            for (String part : spec.split("-")) {
                if (part.equals("sp")) sp = true;
                else if (Algorithm.parse(part) != null) algorithm = Algorithm.parse(part);
                else if (part.equals("perdoc")) sharding = Sharding.PER_DOCUMENT;
                else if (Sharding.parse(part) != null) sharding = Sharding.parse(part);
                else if (List.of("gpipe", "1f1b", "interleaved", "zbh1").contains(part)) schedule = part.equals("zbh1") ? "zb-h1" : part;
                else if (part.startsWith("pp")) pp = Integer.parseInt(part.substring(2));
                else if (part.startsWith("v")) v = Integer.parseInt(part.substring(1));
                else if (part.startsWith("cp")) cp = Integer.parseInt(part.substring(2));
                else if (part.startsWith("dp")) dp = Integer.parseInt(part.substring(2));
                else if (part.startsWith("tp")) tp = Integer.parseInt(part.substring(2));
                else if (part.startsWith("mb")) mb = Integer.parseInt(part.substring(2));
                else if (part.startsWith("z")) zero = Integer.parseInt(part.substring(1));
                else if (part.startsWith("t")) threads = Integer.parseInt(part.substring(1));
                else throw new IllegalArgumentException("unknown layout part '" + part + "' in " + spec);
            }
            Layout layout = new Layout(dp, pp, 1, tp, zero, mb, sp)
                    .withPipeline(new PipelineOptions(schedule, v, List.of()))
                    .withCp(cp, algorithm, sharding);
            return new Run(layout, threads);
        }

        Trainer trainer(TrainOptions options, String profile) {
            return new Trainer(options, layout, new Trainer.Hardware(threads, Bytes.parse(System.getProperty("deviceMemory", "2g")), profile, null));
        }
    }

    static void run(TrainOptions options, String spec, int warmup, String profile) {
        Run run = Run.parse(spec);
        Layout layout = run.layout();
        int threads = run.threads();
        List<StepMetrics> metrics = new ArrayList<>();
        try (Trainer t = run.trainer(options, profile)) {
            t.train(metrics::add, null, 0);
            long[] peak = peaks(t);
            long total = peak[peak.length - 1];
            List<StepMetrics> kept = metrics.subList(Math.min(warmup, metrics.size() - 1), metrics.size());
            double tps = median(kept.stream().mapToDouble(StepMetrics::tokensPerSecond).toArray());
            double sim = median(kept.stream().mapToDouble(StepMetrics::simSeconds).toArray());
            System.out.printf(Locale.ROOT, "| %s | %d x %d | %,.0f | %.3f ms | %s | %s | %s | %s | %s |%n", layout, layout.devices(), threads, tps, sim * 1e3,
                    Bytes.format(peak[MemoryTag.PARAMS.ordinal()]), Bytes.format(peak[MemoryTag.GRADS.ordinal()]),
                    Bytes.format(peak[MemoryTag.OPTIMIZER.ordinal()]), Bytes.format(peak[MemoryTag.ACTIVATIONS.ordinal()]), Bytes.format(total));
        }
    }

    /**
     * The last step's per-device peaks: for each memory tag (by ordinal) the largest over the
     * ranks, then, last, the largest per-device total.
     */
    static long[] peaks(Trainer t) {
        int tags = MemoryTag.values().length;
        long[] peak = new long[tags + 1];
        for (int r = 0; r < t.layout().devices(); r++) {
            var rep = t.lastStep(r);
            long sum = 0;
            for (MemoryTag tag : MemoryTag.values()) {
                peak[tag.ordinal()] = Math.max(peak[tag.ordinal()], rep.peak().get(tag));
                sum += rep.peak().get(tag);
            }
            peak[tags] = Math.max(peak[tags], sum);
        }
        return peak;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
