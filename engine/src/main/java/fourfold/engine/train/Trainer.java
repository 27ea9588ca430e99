package fourfold.engine.train;

import fourfold.devices.Axis;
import fourfold.devices.Cluster;
import fourfold.devices.ClusterConfig;
import fourfold.devices.Device;
import fourfold.devices.HardwareProfile;
import fourfold.devices.KernelTimes;
import fourfold.devices.Mesh;
import fourfold.devices.MemoryTag;
import fourfold.devices.Rank;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.ReduceOp;
import fourfold.devices.trace.Tracer;
import fourfold.engine.UserError;
import fourfold.engine.data.Batch;
import fourfold.engine.data.BatchSampler;
import fourfold.engine.data.EvalWindows;
import fourfold.engine.data.TextDataset;
import fourfold.engine.dp.DataParallel;
import fourfold.engine.io.SafetensorsReader;
import fourfold.engine.model.Init;
import fourfold.engine.model.Llama;
import fourfold.engine.model.Parameter;
import fourfold.engine.tensor.Tensor;
import fourfold.engine.tp.TensorParallel;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A training run on a simulated cluster laid out as {@link Layout} says. Every rank runs the same
 * program (SPMD, as torchrun runs one process per GPU): build its part of the model, then for each
 * step take its rows of the global batch, run forward/backward, reduce, update. Rank 0 reports
 * metrics and writes checkpoints; everything else is symmetric.
 */
public final class Trainer implements AutoCloseable {
    /** Where the run executes: threads and memory per simulated device, the hardware profile, a trace file. */
    public record Hardware(int threadsPerDevice, long deviceMemory, String profile, Path trace) {
        public static Hardware local(int threadsPerDevice, long deviceMemory) {
            return new Hardware(threadsPerDevice, deviceMemory, "cpu-local", null);
        }
    }

    /** Data-parallel options that do not change results: bucket size and FSDP resharding. */
    public record DpOptions(long bucketBytes, boolean reshardAfterForward) {
        public static final DpOptions DEFAULT = new DpOptions(1L << 20, true);
    }

    private final TrainOptions options;
    private final Layout layout;
    private final Hardware hardware;
    private final DpOptions dpOptions;
    private final TextDataset dataset;
    private final BatchSampler sampler;
    private final Cluster cluster;
    private RankReport[] lastStep;
    private Path weightsFrom;   // --init or --resume
    private Path optimizerFrom; // --resume
    private int startStep;
    private KernelTimes[] kernelTimes; // per rank, when measured
    private int kernelTimesFrom;       // steps after the start step that are not timed (JIT warm-up)
    private final double[] timedSeconds;
    private final int[] timedSteps;
    private int keepCheckpoints = CheckpointHistory.DEFAULT_KEEP;
    private CheckpointHistory history; // rank 0's, from the first save on

    public Trainer(TrainOptions options, Layout layout, Hardware hardware) {
        this(options, layout, hardware, DpOptions.DEFAULT);
    }

    public Trainer(TrainOptions options, Layout layout, Hardware hardware, DpOptions dpOptions) {
        layout.validate(options.model(), options.batch(), options.seq());
        if (options.seq() > options.model().maxSeq()) {
            throw new UserError("--seq " + options.seq() + " exceeds the model's max_position_embeddings " + options.model().maxSeq());
        }
        this.options = options;
        this.layout = layout;
        this.hardware = hardware;
        this.dpOptions = dpOptions;
        this.dataset = TextDataset.loadOrEmbedded(options.data());
        this.sampler = BatchSampler.of(options.sampling(), dataset.train(), options.batch(), options.seq(), options.seed());
        dataset.validation().requireWindow(options.seq());
        Mesh mesh = new Mesh(layout.dp(), layout.pp(), layout.cp(), layout.tp());
        HardwareProfile profile;
        try {
            profile = HardwareProfile.named(hardware.profile());
        } catch (IllegalArgumentException e) {
            throw new UserError("unknown --profile '" + hardware.profile() + "'; known: "
                    + HardwareProfile.all().stream().map(HardwareProfile::name).toList());
        }
        this.cluster = new Cluster(mesh, ClusterConfig.defaults()
                .withMemoryPerDevice(hardware.deviceMemory())
                .withThreadsPerDevice(hardware.threadsPerDevice())
                .withProfile(profile)
                .withTrace(hardware.trace() != null));
        this.timedSeconds = new double[mesh.size()];
        this.timedSteps = new int[mesh.size()];
    }

    public TrainOptions options() {
        return options;
    }

    public Layout layout() {
        return layout;
    }

    public TextDataset dataset() {
        return dataset;
    }

    public Cluster cluster() {
        return cluster;
    }

    /**
     * What one rank measured in the last training step (evaluation and checkpoints excluded):
     * peak bytes per memory tag, bytes sent per "group/kind" (e.g. "dp/reduceScatter"), and the
     * data-parallel bucket sizes in elements (empty without data parallel).
     */
    public record RankReport(java.util.EnumMap<MemoryTag, Long> peak, Map<String, Long> bytesSent, long[] bucketCounts) {}

    public RankReport lastStep(int rank) {
        return lastStep[rank];
    }

    public int startStep() {
        return startStep;
    }

    /**
     * Times every kernel of the training steps on the wall clock ({@link KernelTimes}), leaving
     * out the first {@code skipSteps} steps of the run (JIT warm-up); evaluation is never timed.
     * Call before {@link #train}; read the result with {@link #kernelProfile()}.
     */
    public void measureKernelTimes(int skipSteps) {
        kernelTimesFrom = Math.max(0, skipSteps);
        kernelTimes = new KernelTimes[cluster.mesh().size()];
        for (int r = 0; r < kernelTimes.length; r++) kernelTimes[r] = new KernelTimes();
    }

    /**
     * Wall time per kernel over the timed steps: {@code rows} summed over all ranks (divide by
     * ranks x steps for a per-rank, per-step mean), and the mean wall time of a timed step.
     */
    public record KernelProfile(int ranks, int firstStep, int steps, double stepSeconds, List<KernelTimes.Row> rows) {}

    /** What {@link #measureKernelTimes} measured; null when it was not asked for. */
    public KernelProfile kernelProfile() {
        if (kernelTimes == null) return null;
        int n = kernelTimes.length;
        double seconds = 0;
        for (int r = 0; r < n; r++) seconds += timedSteps[r] == 0 ? 0 : timedSeconds[r] / timedSteps[r];
        return new KernelProfile(n, startStep + kernelTimesFrom + 1, timedSteps[0], seconds / n, KernelTimes.sum(Arrays.asList(kernelTimes)));
    }

    /** How many step directories each save keeps in the run directory (0: all). */
    public void keepCheckpoints(int keep) {
        this.keepCheckpoints = keep;
    }

    /** The checkpoints saved so far (null before the first save). */
    public CheckpointHistory history() {
        return history;
    }

    /** Starts from a checkpoint's weights with a fresh optimizer (the config must match). */
    public void initFrom(Path checkpoint) {
        Checkpoints.requireSameConfig(options.model(), checkpoint);
        weightsFrom = checkpoint;
    }

    /** Continues a checkpointed run: weights, optimizer moments and step, whatever layout saved it. */
    public void resumeFrom(Path checkpoint) {
        Checkpoints.requireSameConfig(options.model(), checkpoint);
        optimizerFrom = Checkpoints.optimizerFile(checkpoint);
        weightsFrom = checkpoint;
        startStep = Checkpoints.readStep(checkpoint);
        if (startStep > options.steps()) {
            throw new UserError("checkpoint " + checkpoint + " is at step " + startStep + ", past --steps " + options.steps() + "; raise --steps to continue");
        }
    }

    /**
     * Trains from the start step to {@code options.steps()}, reporting each step to {@code listener}
     * (from rank 0's thread), saving to run directory {@code out} every {@code saveEvery} steps (0: never) and at
     * the end (when out is not null). Returns the final full weights by Hugging Face name.
     */
    public Map<String, float[]> train(Consumer<StepMetrics> listener, Path out, int saveEvery) {
        int n = cluster.mesh().size();
        lastStep = new RankReport[n];
        double[] simDelta = new double[n];
        long[] peaks = new long[n];
        List<Map<String, float[]>> results = cluster.run(rank -> runRank(rank, listener, out, saveEvery, simDelta, peaks));
        if (hardware.trace() != null) {
            try {
                cluster.trace().write(hardware.trace());
            } catch (java.io.IOException e) {
                throw new UserError("cannot write --trace " + hardware.trace() + ": " + e.getMessage());
            }
        }
        return results.get(0);
    }

    private Map<String, float[]> runRank(Rank rank, Consumer<StepMetrics> listener, Path out, int saveEvery,
                                         double[] simDelta, long[] peaks) throws Exception {
        Device device = rank.device();
        ProcessGroup tpGroup = rank.group(Axis.TP);
        ProcessGroup dpGroup = rank.group(Axis.DP);
        ProcessGroup world = rank.group(Axis.DP, Axis.PP, Axis.CP, Axis.TP);
        TensorParallel tp = TensorParallel.of(tpGroup, layout.sequenceParallel());
        Llama model = new Llama(options.model(), device, tp, 0, options.model().nLayers());
        if (weightsFrom != null) {
            try (SafetensorsReader r = SafetensorsReader.open(weightsFrom.resolve("model.safetensors"))) {
                model.load(p -> r.floats(p.name(), p.fullShape()));
            }
        } else {
            model.initialize(options.seed());
        }
        DataParallel dp = layout.dp() > 1 || layout.zero() > 0
                ? new DataParallel(model, dpGroup, layout.zero(), dpOptions.bucketBytes(), dpOptions.reshardAfterForward()) : null;
        AdamWOptimizer optimizer = dp != null ? new AdamWOptimizer(dp.optimizerSlots(), options.adamw())
                : AdamWOptimizer.forParameters(model.parameters(), options.adamw());
        if (optimizerFrom != null) loadOptimizer(model, optimizer, tp);
        optimizer.setStepCount(startStep);
        KernelTimes times = kernelTimes != null ? kernelTimes[rank.rank()] : null;
        device.setKernelTimes(times);
        try (RankTrainer trainer = new RankTrainer(model, optimizer, dp, dpGroup, layout.microBatches())) {
            int B = options.batch(), rows = B / layout.dp(), dpRank = dpGroup.rank();
            for (int step = startStep; step < options.steps(); step++) {
                Batch local = sampler.batch(step).rows(dpRank * rows, rows);
                double lr = options.lrSchedule().at(step);
                device.memory().resetPeak();
                Map<String, Long> sent0 = bytesSent(rank);
                double sim0 = device.clock().now();
                boolean timed = times != null && step - startStep >= kernelTimesFrom;
                if (timed) times.measure(true);
                long t0 = System.nanoTime();
                Tracer.Span stepSpan = rank.trace().span("step " + (step + 1)); // plot --trace finds a step by it
                RankTrainer.StepResult r = trainer.step(local, options.tokensPerStep(), lr, options.clip());
                stepSpan.close();
                double seconds = (System.nanoTime() - t0) / 1e9;
                if (timed) {
                    times.measure(false);
                    timedSeconds[rank.rank()] += seconds;
                    timedSteps[rank.rank()]++;
                }
                lastStep[rank.rank()] = report(rank, sent0, dp);
                simDelta[rank.rank()] = device.clock().now() - sim0;
                peaks[rank.rank()] = device.memory().peak();
                int done = step + 1;
                boolean eval = done == options.steps() || (options.evalEvery() > 0 && done % options.evalEvery() == 0);
                double val = eval ? validationLoss(trainer, dp, dpGroup) : Double.NaN;
                world.barrier(); // every rank's clock and peak are in
                if (rank.rank() == 0) {
                    listener.accept(new StepMetrics(done, r.lossSum() / options.tokensPerStep(), lr, r.gradNorm(),
                            options.tokensPerStep() / seconds, seconds, val,
                            Arrays.stream(simDelta).max().orElse(0), Arrays.stream(peaks).max().orElse(0), List.copyOf(Arrays.asList(lastStep))));
                }
                boolean save = out != null && (done == options.steps() || (saveEvery > 0 && done % saveEvery == 0));
                if (save) saveCheckpoint(rank, model, optimizer, dp, tp, dpGroup, out, done);
            }
            if (dp != null) dp.gatherAll();
            Map<String, float[]> weights = fullWeights(model, tp);
            if (dp != null) dp.releaseAll();
            return weights;
        }
    }

    private static Map<String, Long> bytesSent(Rank rank) {
        Map<String, Long> m = new java.util.TreeMap<>();
        for (var e : rank.commStats().entries()) {
            if (e.rank() == rank.rank()) m.merge(e.group() + "/" + e.kind().label(), e.bytesSent(), Long::sum);
        }
        return m;
    }

    private static RankReport report(Rank rank, Map<String, Long> sentBefore, DataParallel dp) {
        java.util.EnumMap<MemoryTag, Long> peak = new java.util.EnumMap<>(MemoryTag.class);
        for (MemoryTag t : MemoryTag.values()) peak.put(t, rank.device().memory().peak(t));
        Map<String, Long> sent = bytesSent(rank);
        sentBefore.forEach((k, v) -> sent.merge(k, -v, Long::sum));
        sent.values().removeIf(v -> v == 0);
        return new RankReport(peak, sent, dp == null ? new long[0] : dp.bucketCounts());
    }

    /** Mean loss over the validation windows; each dp rank scores its share of every eval batch. */
    private double validationLoss(RankTrainer trainer, DataParallel dp, ProcessGroup dpGroup) {
        if (dp != null) dp.gatherAll();
        EvalWindows windows = new EvalWindows(dataset.validation(), options.seq(), options.batch());
        double sum = 0;
        long tokens = 0;
        int seen = 0;
        for (Batch b : windows) {
            if (options.evalWindows() > 0 && seen >= options.evalWindows()) break;
            if (options.evalWindows() > 0 && seen + b.B() > options.evalWindows()) b = b.rows(0, options.evalWindows() - seen);
            ProcessGroup.Chunk mine = ProcessGroup.chunk(b.B(), dpGroup.size(), dpGroup.rank());
            double local = mine.length() == 0 ? 0 : trainer.model().lossSum(toMicroBatch(b.rows((int) mine.start(), (int) mine.length())));
            sum += fourfold.engine.tensor.Scalars.allReduceSum(dpGroup, trainer.model().device(), local);
            tokens += b.tokens();
            seen += b.B();
        }
        if (dp != null) dp.releaseAll();
        return sum / tokens;
    }

    private static fourfold.engine.model.MicroBatch toMicroBatch(Batch b) {
        return fourfold.engine.model.MicroBatch.causal(b.B(), b.T(), b.inputs(), b.targets());
    }

    /** Every rank takes part (collectives); rank 0 writes. */
    private void saveCheckpoint(Rank rank, Llama model, AdamWOptimizer optimizer, DataParallel dp, TensorParallel tp,
                                ProcessGroup dpGroup, Path out, int step) {
        if (dp != null) dp.gatherAll();
        Map<String, float[]> weights = fullWeights(model, tp);
        if (dp != null) dp.releaseAll();
        Map<String, float[]> m = new LinkedHashMap<>(), v = new LinkedHashMap<>();
        Map<String, int[]> shapes = new LinkedHashMap<>();
        boolean sharded = dp != null && dp.zeroStage() >= 1 && dpGroup.size() > 1;
        for (Parameter p : model.parameters()) {
            shapes.put(p.name(), p.fullShape());
            float[][] local = {new float[Math.toIntExact(p.localNumel())], new float[Math.toIntExact(p.localNumel())]};
            for (AdamWOptimizer.Slot s : optimizer.slots()) {
                if (!s.name().equals(p.name())) continue;
                float[] sm = s.m().toArray(), sv = s.v().toArray();
                System.arraycopy(sm, 0, local[0], (int) s.offset(), sm.length);
                System.arraycopy(sv, 0, local[1], (int) s.offset(), sv.length);
            }
            for (int k = 0; k < 2; k++) {
                // ZeRO: each dp rank holds disjoint ranges, zeros elsewhere: a sum assembles them.
                float[] assembled = sharded ? sum(dpGroup, model.device(), local[k]) : local[k];
                (k == 0 ? m : v).put(p.name(), gatherShards(p, assembled, tp));
            }
        }
        if (rank.rank() == 0) {
            if (history == null) history = new CheckpointHistory(out, keepCheckpoints, startStep);
            history.save(step, Checkpoints.contents(options, layout, step, new Checkpoints.State(weights, shapes, m, v)));
        }
        rank.group(Axis.DP, Axis.PP, Axis.CP, Axis.TP).barrier();
    }

    private static Map<String, float[]> fullWeights(Llama model, TensorParallel tp) {
        Map<String, float[]> weights = new LinkedHashMap<>();
        for (Parameter p : model.parameters()) weights.put(p.name(), gatherShards(p, p.data().toArray(), tp));
        return weights;
    }

    /** The full tensor of {@code p} from every tp rank's shard (all-gather over the tp group). */
    private static float[] gatherShards(Parameter p, float[] local, TensorParallel tp) {
        if (p.shardDim() < 0 || tp.size() == 1) return local;
        Device dev = p.device();
        try (Tensor mine = Tensor.of(dev, MemoryTag.COMM, "gather.shard", local, local.length);
             Tensor all = Tensor.empty(dev, MemoryTag.COMM, "gather.full", local.length * tp.size())) {
            tp.group().allGather(mine.segment(), all.segment());
            return Init.fromShards(p, all.toArray(), tp.size());
        }
    }

    private static float[] sum(ProcessGroup group, Device dev, float[] values) {
        try (Tensor t = Tensor.of(dev, MemoryTag.COMM, "assemble", values, values.length)) {
            group.allReduce(t.segment(), ReduceOp.SUM);
            return t.toArray();
        }
    }

    /** Each slot takes its range of its parameter's local slice of the saved full moments. */
    private void loadOptimizer(Llama model, AdamWOptimizer optimizer, TensorParallel tp) {
        Map<String, Parameter> byName = new LinkedHashMap<>();
        for (Parameter p : model.parameters()) byName.put(p.name(), p);
        try (SafetensorsReader r = SafetensorsReader.open(optimizerFrom)) {
            for (AdamWOptimizer.Slot s : optimizer.slots()) {
                Parameter p = byName.get(s.name());
                for (int k = 0; k < 2; k++) {
                    float[] local = Init.localSlice(p, r.floats(s.name() + (k == 0 ? ".exp_avg" : ".exp_avg_sq"), p.fullShape()));
                    Tensor dst = k == 0 ? s.m() : s.v();
                    dst.copyFrom(Arrays.copyOfRange(local, (int) s.offset(), (int) (s.offset() + dst.numel())));
                }
            }
        }
    }

    @Override
    public void close() {
        cluster.close();
    }
}
