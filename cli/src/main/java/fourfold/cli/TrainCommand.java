package fourfold.cli;

import fourfold.devices.Bytes;
import fourfold.devices.Device;
import fourfold.devices.mpi.MpiHosting;
import fourfold.engine.UserError;
import fourfold.engine.cp.Algorithm;
import fourfold.engine.cp.Sharding;
import fourfold.engine.data.Sampling;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.pp.PipelineOptions;
import fourfold.engine.train.CheckpointCheck;
import fourfold.engine.train.CheckpointHistory;
import fourfold.engine.train.Checkpoints;
import fourfold.engine.train.Layout;
import fourfold.engine.train.LayoutSpec;
import fourfold.engine.train.LrSchedule;
import fourfold.engine.train.RunSummary;
import fourfold.engine.train.StepMetrics;
import fourfold.engine.train.TrainOptions;
import fourfold.engine.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Callable;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a Llama model (default: the `tiny` preset on the embedded Tiny Shakespeare corpus).")
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--preset", defaultValue = "tiny", description = "Model preset: test, tiny, small (default: ${DEFAULT-VALUE}).")
    String preset;
    @Option(names = "--data", description = "Training text file (default: the embedded Tiny Shakespeare corpus).")
    Path data;
    @Option(names = "--steps", defaultValue = "2000", description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
    int steps;
    @Option(names = "--batch", defaultValue = "12", description = "Global batch: sequences per step (default: ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--seq", description = "Tokens per sequence (default: the model's max_position_embeddings).")
    Integer seq;
    @Option(names = "--lr", defaultValue = "1e-3", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    double lr;
    @Option(names = "--min-lr", description = "Final learning rate of the cosine schedule (default: lr / 10).")
    Double minLr;
    @Option(names = "--lr-schedule", defaultValue = "cosine", description = "cosine (with warmup) or constant (default: ${DEFAULT-VALUE}).")
    String lrSchedule;
    @Option(names = "--warmup", defaultValue = "100", description = "Warmup steps (default: ${DEFAULT-VALUE}).")
    int warmup;
    @Option(names = "--weight-decay", defaultValue = "0.1", description = "AdamW weight decay on 2-D weights (default: ${DEFAULT-VALUE}).")
    double weightDecay;
    @Option(names = "--beta1", defaultValue = "0.9", description = "AdamW beta1 (default: ${DEFAULT-VALUE}).")
    double beta1;
    @Option(names = "--beta2", defaultValue = "0.99", description = "AdamW beta2 (default: ${DEFAULT-VALUE}).")
    double beta2;
    @Option(names = "--clip", defaultValue = "1.0", description = "Global gradient-norm clip, 0 disables (default: ${DEFAULT-VALUE}).")
    double clip;
    @Option(names = "--seed", defaultValue = "1337", description = "Seed for weights and batches (default: ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--sampling", defaultValue = "random", description = "random or sequential batches (default: ${DEFAULT-VALUE}).")
    String sampling;
    @Option(names = "--micro-batches", defaultValue = "1", description = "Gradient accumulation: micro-batches per step (default: ${DEFAULT-VALUE}).")
    int microBatches;
    @Option(names = "--eval-every", defaultValue = "250", description = "Validation loss every N steps, 0: only at the end (default: ${DEFAULT-VALUE}).")
    int evalEvery;
    @Option(names = "--eval-windows", defaultValue = "0", description = "Validation windows per evaluation, 0: the whole split (default: ${DEFAULT-VALUE}).")
    int evalWindows;
    @Option(names = "--init", description = "Start from this checkpoint's weights (and its config) with a fresh optimizer (a run directory: its latest intact checkpoint).")
    Path init;
    @Option(names = "--resume", description = "Continue the run saved in this checkpoint (weights, optimizer, step); a run directory: its latest intact checkpoint.")
    Path resume;
    @Option(names = "--out", defaultValue = "checkpoints", description = "Run directory: a step-NNNNNN checkpoint per save and a `latest` file naming the newest (default: ${DEFAULT-VALUE}).")
    Path out;
    @Option(names = "--save-every", defaultValue = "0", description = "Also save a checkpoint every N steps (default: only at the end).")
    int saveEvery;
    @Option(names = "--keep", defaultValue = "" + CheckpointHistory.DEFAULT_KEEP, description = "Checkpoints kept in the run directory, the oldest removed after each save; 0 keeps all (default: ${DEFAULT-VALUE}).")
    int keep;
    @Option(names = "--metrics-out", description = "Write one JSON object per step to this file (JSON Lines).")
    Path metricsOut;
    @Option(names = "--dp", defaultValue = "1", description = "Data-parallel size (default: ${DEFAULT-VALUE}).")
    int dp;
    @Option(names = "--tp", defaultValue = "1", description = "Tensor-parallel size (default: ${DEFAULT-VALUE}).")
    int tp;
    @Option(names = "--pp", defaultValue = "1", description = "Pipeline-parallel size (default: ${DEFAULT-VALUE}).")
    int pp;
    @Option(names = "--schedule", defaultValue = "1f1b", description = "Pipeline schedule: gpipe, 1f1b, interleaved, zb-h1 (default: ${DEFAULT-VALUE}).")
    String schedule;
    @Option(names = "--virtual-stages", defaultValue = "1", description = "Model chunks per pp rank (--schedule interleaved) (default: ${DEFAULT-VALUE}).")
    int virtualStages;
    @Option(names = "--stage-layers", split = ",", description = "Decoder layers of each pipeline stage, e.g. 2,3,3,2 (default: balanced, embedding and head counted).")
    List<Integer> stageLayers;
    @Option(names = "--print-schedule", description = "Print each pp rank's action list of the schedule and exit.")
    boolean printSchedule;
    @Option(names = "--cp", defaultValue = "1", description = "Context-parallel size (default: ${DEFAULT-VALUE}).")
    int cp;
    @Option(names = "--cp-algo", defaultValue = "allgather", description = "Context parallel: allgather (K/V all-gathered, Llama 3) or ring (default: ${DEFAULT-VALUE}).")
    String cpAlgo;
    @Option(names = "--cp-shard", defaultValue = "headtail", description = "Context parallel sharding: headtail, per-document (needs --doc-mask) or contiguous (default: ${DEFAULT-VALUE}).")
    String cpShard;
    @Option(names = "--doc-mask", description = "Pack documents: a document ends after each delimiter; tokens attend within their document, positions restart per document.")
    boolean docMask;
    @Option(names = "--doc-delimiter", description = "Document delimiter for --doc-mask, with Java escapes (default: \\n\\n, a blank line).")
    String docDelimiter;
    @Option(names = "--layout", description = "The mesh in one flag, e.g. dp2,pp2,cp2,tp2 (axes in any order, missing axes 1); instead of --dp/--pp/--cp/--tp.")
    String layoutSpec;
    @Option(names = "--zero", defaultValue = "0", description = "ZeRO stage 0-3 for data parallel (default: ${DEFAULT-VALUE}).")
    int zero;
    @Option(names = "--sequence-parallel", description = "Shard norm/residual activations over the tp group.")
    boolean sequenceParallel;
    @Option(names = "--threads-per-device", description = "Worker threads per simulated device (default: cores / devices, at least 1).")
    Integer threadsPerDevice;
    @Option(names = "--device-memory", defaultValue = "1g", description = "Memory of each simulated device, e.g. 512m, 2g (default: ${DEFAULT-VALUE}).")
    String deviceMemory;
    @Option(names = "--no-progress", description = "No progress bar (log lines only).")
    boolean noProgress;
    @Option(names = "--profile", defaultValue = "h100-nvlink-ib", description = "Hardware profile of the simulated clock: cpu-local, h100-nvlink-ib (default: ${DEFAULT-VALUE}).")
    String profile;
    @Option(names = "--trace", description = "Write a Chrome trace (open in Perfetto or chrome://tracing) of the run's simulated time.")
    Path trace;
    @Option(names = "--kernel-times", description = "After training, print where a step's wall time went, kernel by kernel (leaves out the first steps: JIT warm-up).")
    boolean kernelTimes;
    @Option(names = "--bucket-size", defaultValue = "1m", description = "Data-parallel gradient bucket size, e.g. 256k, 4m (default: ${DEFAULT-VALUE}).")
    String bucketSize;
    @Option(names = "--reshard-after-forward", defaultValue = "true", arity = "1", description = "ZeRO-3: free gathered parameters after forward and gather again for backward (default: ${DEFAULT-VALUE}).")
    boolean reshardAfterForward;

    @Option(names = "--backend", defaultValue = "in-process", description = "in-process (every device a thread team of this JVM) or mpi (processes started by mpirun -np N; see README) (default: ${DEFAULT-VALUE}).")
    String backend;
    @Option(names = "--devices-per-process", defaultValue = "1", description = "With --backend mpi: simulated devices each process hosts (consecutive ranks; groups inside a process run in process), so mpirun -np DEVICES/k (default: ${DEFAULT-VALUE}).")
    int devicesPerProcess;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        boolean mpi = MpiLaunch.requested(backend);
        if (!mpi) return train(false, true);
        boolean reports = MpiLaunch.worldRank() == 0;
        try {
            return train(true, reports);
        } catch (UserError e) {
            if (reports) throw e;
            return Main.EXIT_USER_ERROR; // every process sees the same mistake; rank 0 says it
        }
    }

    /** The run; {@code reports}: this process prints progress and messages and writes the metrics (rank 0's process). */
    private int train(boolean mpi, boolean reports) throws Exception {
        if (!mpi && given("--devices-per-process")) {
            throw new UserError("--devices-per-process places devices in MPI processes; it needs --backend mpi (in process every device is in this JVM already)");
        }
        if (devicesPerProcess < 1) throw new UserError("--devices-per-process must be >= 1, got " + devicesPerProcess);
        if (mpi && kernelTimes) throw new UserError("--kernel-times is not available with --backend mpi yet; time kernels with the in-process backend");
        if (resume != null && init != null) throw new UserError("--init and --resume exclude each other: --resume continues a run, --init starts a new one from weights");
        if (init != null && given("--preset")) {
            throw new UserError("--preset and --init exclude each other: --init takes the model config from " + init.resolve("config.json") + "; drop --preset");
        }
        if (keep < 0) throw new UserError("--keep must be >= 0 (0 keeps every checkpoint), got " + keep);
        // A run directory stands for its latest intact checkpoint; every checkpoint is verified before it is read.
        if (resume != null) resume = checkpoint(resume, CheckpointCheck.Purpose.RESUME);
        if (init != null) init = checkpoint(init, CheckpointCheck.Purpose.WEIGHTS);
        TrainOptions options;
        if (resume != null) {
            // A resumed run keeps the options it was started with; only its length, its layout,
            // where it runs and how often it evaluates may change.
            TrainOptions saved = Checkpoints.readOptions(resume, given("--steps") ? steps : 0);
            Path savedData = saved.data();
            if (savedData != null && !Files.exists(savedData)) {
                // The data moved: --data says where it is now (it must be the same text for the same run).
                if (!given("--data")) {
                    throw new UserError("the run saved in " + resume + " trained on " + savedData + ", which does not exist any more; give its new location with --data");
                }
                savedData = data;
            }
            requireUnchangedOnResume(saved, savedData != saved.data());
            options = new TrainOptions(saved.model(), savedData, saved.steps(), saved.batch(), saved.seq(), saved.lr(), saved.minLr(),
                    saved.schedule(), saved.warmup(), saved.weightDecay(), saved.clip(), saved.beta1(), saved.beta2(), saved.eps(),
                    saved.seed(), saved.sampling(), given("--eval-every") ? evalEvery : saved.evalEvery(),
                    given("--eval-windows") ? evalWindows : saved.evalWindows(), saved.documents());
        } else {
            options = newRun(init != null ? Checkpoints.readConfig(init) : LlamaConfig.preset(preset));
        }
        LlamaConfig model = options.model();
        int T = options.seq();
        validate(options);
        if (virtualStages > 1 && !schedule.equals("interleaved")) {
            throw new UserError("--virtual-stages " + virtualStages + " needs --schedule interleaved; use --virtual-stages 1 or --schedule interleaved");
        }
        Layout layout = layout();
        if (printSchedule) {
            if (reports) System.out.print(PipelinePrint.format(layout, model));
            return 0;
        }
        int devices = layout.devices();
        // Under MPI each process hosts --devices-per-process devices; the processes of one host share its cores.
        int devicesHere = mpi ? MpiHosting.processesOnThisHost() * devicesPerProcess : devices;
        int threads = threadsPerDevice != null ? threadsPerDevice : Math.max(1, Runtime.getRuntime().availableProcessors() / Math.max(1, devicesHere));
        if (threads < 1) throw new UserError("--threads-per-device must be >= 1, got " + threads);
        if (saveEvery < 0) throw new UserError("--save-every must be >= 0 (0: only at the end), got " + saveEvery);
        long memory = parseMemory(deviceMemory);
        Preflight.requireHostMemory(memory, devicesHere);
        // Every output path is checked before any training time is spent.
        Path runDir = CheckpointHistory.requireRunDirectory(out);
        Preflight.requireWritableFile("--metrics-out", metricsOut);
        Preflight.requireWritableFile("--trace", trace);

        // Checkpoints too, before the devices' memory is allocated (which takes a while).
        if (init != null) Checkpoints.requireSameConfig(model, init);
        if (resume != null) {
            Checkpoints.requireSameConfig(model, resume);
            Checkpoints.optimizerFile(resume);
        }

        long bucket = parseSize("--bucket-size", bucketSize);
        Trainer.Hardware hardware = new Trainer.Hardware(threads, memory, profile, trace);
        MpiHosting hosting = mpi ? MpiLaunch.start(devices, devicesPerProcess) : null;
        try (Trainer trainer = new Trainer(options, layout, hardware, new Trainer.DpOptions(bucket, reshardAfterForward),
                hosting != null ? hosting : MpiLaunch.inProcess())) {
            RunSummary summary = new RunSummary(layout, model, T, options.tokensPerStep(), hostedDevice(trainer).spec().peakFlops());
            trainer.keepCheckpoints(keep);
            if (init != null) trainer.initFrom(init);
            if (resume != null) {
                trainer.resumeFrom(resume);
                if (trainer.startStep() >= options.steps()) {
                    throw new UserError("checkpoint " + resume + " is already at step " + trainer.startStep() + " of --steps " + options.steps()
                            + "; raise --steps to train further");
                }
            }
            if (kernelTimes) trainer.measureKernelTimes(KernelTimesTable.warmupSteps(options.steps() - trainer.startStep()));
            // Everything is checked: from here on, only running out of memory can stop the run early.
            try (MetricsWriter metrics = MetricsWriter.open(reports ? metricsOut : null);
                 TrainProgress progress = new TrainProgress(options.steps(), !noProgress && reports)) {
                if (reports) System.err.printf(Locale.ROOT, "fourfold: training %s (%,d parameters) on %s, %s, batch %d x %d tokens, steps %d..%d%n",
                        preset(), model.parameterCount(), trainer.dataset().name(), layout, options.batch(), T, trainer.startStep() + 1, options.steps());
                progress.start(trainer.startStep());
                trainer.train(m -> {
                    progress.step(m);
                    summary.add(m);
                    metrics.write(m, summary);
                }, runDir, saveEvery);
            }
            if (reports) {
                System.err.print(SummaryTable.format(summary, profile));
                if (!Double.isNaN(summary.ppBubble())) {
                    System.err.printf(Locale.ROOT, "fourfold: pipeline bubble (simulated clock, mean over %d steps and %d pp ranks): %.3f%n",
                            summary.steps(), layout.pp(), summary.ppBubble());
                }
                for (String note : trainer.history().notes()) System.err.println("fourfold: note: " + note);
                System.err.println("fourfold: checkpoint written to " + CheckpointHistory.latest(runDir) + " (" + runDir.resolve(CheckpointHistory.LATEST)
                        + " names it; try: ./fourfold generate --checkpoint " + runDir + ")");
                if (trace != null) System.err.println("fourfold: trace written to " + trace + " (open it in https://ui.perfetto.dev)");
            }
            if (kernelTimes) System.out.print(KernelTimesTable.format(trainer.kernelProfile()));
        }
        if (hosting != null) hosting.close(); // MPI_Finalize, only after a run that succeeded here
        return 0;
    }

    /** The mesh from --layout or from the single-axis flags, which exclude each other. */
    private Layout layout() {
        PipelineOptions pipeline = new PipelineOptions(schedule, virtualStages, stageLayers);
        Algorithm algorithm = CpFlags.algorithm(cpAlgo);
        Sharding sharding = CpFlags.sharding(cpShard);
        if (layoutSpec == null) return new Layout(dp, pp, cp, tp, zero, microBatches, sequenceParallel).withPipeline(pipeline).withCp(cp, algorithm, sharding);
        List<String> axisFlags = List.of("--dp", "--pp", "--cp", "--tp").stream().filter(this::given).toList();
        if (!axisFlags.isEmpty()) {
            throw new UserError("--layout and " + String.join(", ", axisFlags) + " exclude each other: --layout " + layoutSpec
                    + " already sets every axis (missing axes are 1); drop " + String.join(", ", axisFlags) + " or --layout");
        }
        Layout mesh = LayoutSpec.parse("--layout", layoutSpec).layout(zero, microBatches, sequenceParallel).withPipeline(pipeline);
        return mesh.withCp(mesh.cp(), algorithm, sharding);
    }

    /** The checkpoint that {@code given} names (a run directory: its latest intact one), verified; notes go to stderr. */
    static Path checkpoint(Path given, CheckpointCheck.Purpose purpose) {
        CheckpointHistory.Resolved r = CheckpointHistory.resolve(given, purpose);
        for (String note : r.notes()) System.err.println("fourfold: note: " + note);
        return r.dir();
    }

    /** A device of this process (under MPI the others are elsewhere); all devices share one profile. */
    private static Device hostedDevice(Trainer trainer) {
        return trainer.cluster().devices().stream().filter(Objects::nonNull).findFirst().orElseThrow();
    }

    private boolean given(String option) {
        return spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    /** The options of a new run (from scratch or --init) as the flags say. */
    private TrainOptions newRun(LlamaConfig model) {
        int T = seq != null ? seq : model.maxSeq();
        return new TrainOptions(model, data, steps, batch, T, lr, minLr != null ? minLr : lr / 10,
                parseSchedule(lrSchedule), warmup, weightDecay, clip, beta1, beta2, 1e-8, seed, Sampling.parse(sampling),
                evalEvery, evalWindows, CpFlags.documents(docMask, docDelimiter));
    }

    /**
     * Refuses a flag that would change what a resumed run computes (batch, data, learning rate...):
     * silently ignoring it would train something else than the user asked for, and using it would
     * make the result differ from the uninterrupted run. The same value as saved is accepted, so
     * the original command line plus --resume works.
     */
    private void requireUnchangedOnResume(TrainOptions saved, boolean dataMoved) {
        TrainOptions asked = newRun(given("--preset") ? LlamaConfig.preset(preset) : saved.model());
        record Field(String flag, Object saved, Object asked) {}
        List<Field> fields = List.of(
                new Field("--preset", saved.model(), asked.model()),
                new Field("--data", saved.data() == null ? "the embedded corpus" : saved.data().toAbsolutePath().normalize(),
                        asked.data() == null ? "the embedded corpus" : asked.data().toAbsolutePath().normalize()),
                new Field("--batch", saved.batch(), asked.batch()),
                new Field("--seq", saved.seq(), asked.seq()),
                new Field("--lr", saved.lr(), asked.lr()),
                new Field("--min-lr", saved.minLr(), asked.minLr()),
                new Field("--lr-schedule", saved.schedule(), asked.schedule()),
                new Field("--warmup", saved.warmup(), asked.warmup()),
                new Field("--weight-decay", saved.weightDecay(), asked.weightDecay()),
                new Field("--clip", saved.clip(), asked.clip()),
                new Field("--beta1", saved.beta1(), asked.beta1()),
                new Field("--beta2", saved.beta2(), asked.beta2()),
                new Field("--seed", saved.seed(), asked.seed()),
                new Field("--sampling", saved.sampling(), asked.sampling()),
                new Field("--doc-mask", saved.documents() != null, asked.documents() != null),
                new Field("--doc-delimiter", String.valueOf(saved.documents()), String.valueOf(asked.documents())));
        for (Field f : fields) {
            if (given(f.flag()) && !f.saved().equals(f.asked()) && !(dataMoved && f.flag().equals("--data"))) {
                String value = f.asked() instanceof LlamaConfig ? preset : show(f.asked());
                throw new UserError(f.flag() + " " + value + " differs from the run saved in " + resume + " (" + show(f.saved()) + "); --resume continues"
                        + " that run as it was, only --steps and the layout may change: drop " + f.flag() + ", or start a new run from these weights with --init");
            }
        }
    }

    private static String show(Object v) {
        return v instanceof Enum<?> e ? e.name().toLowerCase(Locale.ROOT) : String.valueOf(v);
    }

    private String preset() {
        return init != null ? "model from " + init : resume != null ? "run from " + resume : "'" + preset + "'";
    }

    private static LrSchedule.Kind parseSchedule(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "cosine" -> LrSchedule.Kind.COSINE;
            case "constant" -> LrSchedule.Kind.CONSTANT;
            default -> throw new UserError("unknown --lr-schedule '" + s + "'; use cosine or constant");
        };
    }

    static long parseMemory(String s) {
        return parseSize("--device-memory", s);
    }

    static long parseSize(String flag, String s) {
        try {
            return Bytes.parse(s);
        } catch (IllegalArgumentException e) {
            throw new UserError(flag + ": " + e.getMessage());
        }
    }

    static void validate(TrainOptions o) {
        if (o.steps() < 1) throw new UserError("--steps must be >= 1, got " + o.steps());
        if (o.batch() < 1) throw new UserError("--batch must be >= 1, got " + o.batch());
        if (o.seq() < 1) throw new UserError("--seq must be >= 1, got " + o.seq());
        if (!(o.lr() > 0)) throw new UserError("--lr must be > 0, got " + o.lr());
        if (o.warmup() < 0) throw new UserError("--warmup must be >= 0, got " + o.warmup());
        if (o.clip() < 0) throw new UserError("--clip must be >= 0 (0 disables), got " + o.clip());
        if (o.beta1() < 0 || o.beta1() >= 1 || o.beta2() < 0 || o.beta2() >= 1) throw new UserError("--beta1 and --beta2 must be in [0, 1)");
        if (o.evalEvery() < 0) throw new UserError("--eval-every must be >= 0, got " + o.evalEvery());
        if (o.evalWindows() < 0) throw new UserError("--eval-windows must be >= 0 (0: the whole validation split), got " + o.evalWindows());
        if (!(o.minLr() >= 0) || o.minLr() > o.lr()) throw new UserError("--min-lr must be between 0 and --lr " + o.lr() + ", got " + o.minLr());
        if (!(o.weightDecay() >= 0)) throw new UserError("--weight-decay must be >= 0, got " + o.weightDecay());
        Preflight.requireByteVocabulary(o.model(), "the model");
    }

}
