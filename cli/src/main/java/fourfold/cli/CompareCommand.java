package fourfold.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import fourfold.devices.DeviceOutOfMemoryError;
import fourfold.engine.UserError;
import fourfold.engine.data.Sampling;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.train.Layout;
import fourfold.engine.train.LayoutSpec;
import fourfold.engine.train.LrSchedule;
import fourfold.engine.train.RunSummary;
import fourfold.engine.train.TrainOptions;
import fourfold.engine.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "compare", mixinStandardHelpOptions = true,
        description = {"Train the same model on the same seed and batches under several layouts and on one device, in this process,",
                "then print one table: final loss, deviation from the single-device losses, throughput, simulated step time, MFU, pp bubble,",
                "peak memory per device and bytes sent per axis. A layout that cannot run gets its reason in its row."})
final class CompareCommand implements Callable<Integer> {
    @Option(names = "--layouts", required = true, description = "Layouts separated by ';', each as train --layout writes it, e.g. \"dp8; dp2,tp2,pp2; pp2,cp2,tp2\".")
    String layouts;
    @Option(names = "--preset", defaultValue = "tiny", description = "Model preset: test, tiny, small (default: ${DEFAULT-VALUE}).")
    String preset;
    @Option(names = "--data", description = "Training text file (default: the embedded Tiny Shakespeare corpus).")
    Path data;
    @Option(names = "--steps", defaultValue = "20", description = "Optimizer steps per layout (default: ${DEFAULT-VALUE}).")
    int steps;
    @Option(names = "--batch", defaultValue = "8", description = "Global batch: sequences per step (default: ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--seq", description = "Tokens per sequence (default: the model's max_position_embeddings).")
    Integer seq;
    @Option(names = "--lr", defaultValue = "1e-3", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    double lr;
    @Option(names = "--warmup", defaultValue = "5", description = "Warmup steps (default: ${DEFAULT-VALUE}).")
    int warmup;
    @Option(names = "--seed", defaultValue = "1337", description = "Seed for weights and batches (default: ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--zero", defaultValue = "0", description = "ZeRO stage 0-3 of every layout (default: ${DEFAULT-VALUE}).")
    int zero;
    @Option(names = "--micro-batches", defaultValue = "1", description = "Micro-batches per step of every layout (default: ${DEFAULT-VALUE}).")
    int microBatches;
    @Option(names = "--sequence-parallel", description = "Sequence parallel in every layout with tp > 1.")
    boolean sequenceParallel;
    @Option(names = "--threads-per-device", description = "Worker threads per simulated device (default: cores / devices of each layout, at least 1).")
    Integer threadsPerDevice;
    @Option(names = "--device-memory", defaultValue = "256m", description = "Memory of each simulated device (default: ${DEFAULT-VALUE}).")
    String deviceMemory;
    @Option(names = "--profile", defaultValue = "h100-nvlink-ib", description = "Hardware profile of the simulated clock: cpu-local, h100-nvlink-ib (default: ${DEFAULT-VALUE}).")
    String profile;
    @Option(names = "--json", description = "Print the rows as a JSON array instead of the table.")
    boolean json;

    @Override
    public Integer call() {
        List<LayoutSpec> specs = new ArrayList<>();
        for (String item : layouts.split(";")) if (!item.isBlank()) specs.add(LayoutSpec.parse("--layouts", item));
        if (specs.isEmpty()) throw new UserError("--layouts is empty; give layouts separated by ';', e.g. \"dp2; tp2; dp2,tp2\"");
        LlamaConfig model = LlamaConfig.preset(preset);
        // One validation window at the end (the trainer always evaluates there): compare is about the training losses.
        TrainOptions options = new TrainOptions(model, data, steps, batch, seq != null ? seq : model.maxSeq(), lr, lr / 10,
                LrSchedule.Kind.COSINE, warmup, 0.1, 1.0, 0.9, 0.99, 1e-8, seed, Sampling.RANDOM, 0, 1);
        TrainCommand.validate(options);
        long memory = TrainCommand.parseMemory(deviceMemory);
        int total = specs.size() + 1;

        progress(1, total, "single", 1, "starting");
        RunSummary single = run(options, Layout.single(), memory);
        progress(1, total, "single", 1, String.format(Locale.ROOT, "done: final loss %.6f, %,.0f tokens/s", single.finalLoss(), single.tokensPerSecond()));
        List<SummaryTable.Row> rows = new ArrayList<>(List.of(SummaryTable.Row.of(single, 0)));
        for (int i = 0; i < specs.size(); i++) {
            LayoutSpec spec = specs.get(i);
            Layout layout = spec.layout(zero, microBatches, sequenceParallel && spec.tp() > 1);
            List<String> problems = layout.problems(model, options.batch(), options.seq());
            if (!problems.isEmpty()) {
                rows.add(SummaryTable.Row.failed(spec.toString(), String.join("; ", problems)));
                progress(i + 2, total, spec.toString(), spec.devices(), "cannot run: " + String.join("; ", problems));
                continue;
            }
            progress(i + 2, total, spec.toString(), spec.devices(), "starting");
            try {
                RunSummary s = run(options, layout, memory);
                double dev = maxRelativeDeviation(s.losses(), single.losses());
                rows.add(SummaryTable.Row.of(s, dev));
                progress(i + 2, total, spec.toString(), spec.devices(), String.format(Locale.ROOT,
                        "done: final loss %.6f (max rel. deviation %.1e), %,.0f tokens/s", s.finalLoss(), dev, s.tokensPerSecond()));
            } catch (RuntimeException e) {
                String why = reason(e);
                if (why == null) throw e; // a bug, not a property of the layout
                rows.add(SummaryTable.Row.failed(spec.toString(), why));
                progress(i + 2, total, spec.toString(), spec.devices(), "cannot run: " + why);
            }
        }
        System.out.print(json ? toJson(rows) : SummaryTable.table(rows, single));
        return 0;
    }

    private RunSummary run(TrainOptions options, Layout layout, long memory) {
        Preflight.requireHostMemory(memory, layout.devices());
        int threads = threadsPerDevice != null ? threadsPerDevice : Math.max(1, Runtime.getRuntime().availableProcessors() / layout.devices());
        try (Trainer t = new Trainer(options, layout, new Trainer.Hardware(threads, memory, profile, null))) {
            RunSummary s = new RunSummary(layout, options.model(), options.seq(), options.tokensPerStep(), t.cluster().device(0).spec().peakFlops());
            t.train(s::add, null, 0);
            return s;
        }
    }

    /** Why a layout failed when that is the user's to fix (a user error, out of device memory), else null. */
    private static String reason(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof UserError || t instanceof DeviceOutOfMemoryError) return Main.oneLine(t.getMessage());
        }
        return null;
    }

    static double maxRelativeDeviation(List<Double> losses, List<Double> reference) {
        double max = 0;
        for (int i = 0; i < reference.size(); i++) max = Math.max(max, Math.abs(losses.get(i) - reference.get(i)) / Math.abs(reference.get(i)));
        return max;
    }

    private static void progress(int i, int total, String layout, int devices, String what) {
        System.err.printf(Locale.ROOT, "compare [%d/%d] %s (%d device%s): %s%n", i, total, layout, devices, devices == 1 ? "" : "s", what);
    }

    private static String toJson(List<SummaryTable.Row> rows) {
        JsonArray a = new JsonArray();
        for (SummaryTable.Row r : rows) {
            JsonObject o = new JsonObject();
            o.addProperty("layout", r.layout());
            if (r.run() == null) {
                o.addProperty("error", r.failure());
            } else {
                RunSummary s = r.run();
                o.addProperty("devices", s.devices());
                o.addProperty("final_loss", s.finalLoss());
                o.addProperty("max_rel_deviation", r.maxDeviation());
                o.addProperty("tokens_per_s", s.tokensPerSecond());
                o.addProperty("sim_step_s", s.simStepSeconds());
                o.addProperty("mfu", s.mfu());
                if (!Double.isNaN(s.ppBubble())) o.addProperty("pp_bubble", s.ppBubble());
                o.addProperty("peak_bytes", s.peakBytes());
                JsonObject bytes = new JsonObject();
                s.bytesPerAxisPerStep().forEach(bytes::addProperty);
                o.add("bytes_per_step", bytes);
            }
            a.add(o);
        }
        return new GsonBuilder().create().toJson(a) + "\n";
    }
}
