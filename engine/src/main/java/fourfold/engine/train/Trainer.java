package fourfold.engine.train;

import fourfold.devices.Axis;
import fourfold.devices.Cluster;
import fourfold.devices.ClusterConfig;
import fourfold.devices.Device;
import fourfold.devices.HardwareProfile;
import fourfold.devices.Hosting;
import fourfold.devices.KernelTimes;
import fourfold.devices.Mesh;
import fourfold.devices.MemoryTag;
import fourfold.devices.Rank;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.trace.Tracer;
import fourfold.engine.UserError;
import fourfold.engine.data.Batch;
import fourfold.engine.data.BatchSampler;
import fourfold.engine.data.TextDataset;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * A training run on a simulated cluster laid out as {@link Layout} says. Every rank runs the same
 * program (SPMD, as torchrun runs one process per GPU): build its part of the model
 * ({@link RankModel}), then for each step take its rows of the global batch and run the step
 * ({@link RankTrainer}: the pipeline schedule's actions, reduction, update), evaluate
 * ({@link Evaluation}) and save ({@link RankCheckpoint}). Rank 0 reports metrics and writes
 * checkpoints; everything else is symmetric.
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
        this(options, layout, hardware, dpOptions, Hosting.IN_PROCESS);
    }

    /** A run whose ranks this process hosts as {@code hosting} says (the others run the same program in other processes). */
    public Trainer(TrainOptions options, Layout layout, Hardware hardware, DpOptions dpOptions, Hosting hosting) {
        layout.validate(options.model(), options.batch(), options.seq(), options.documents() != null);
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
                .withTrace(hardware.trace() != null), hosting);
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
     * ranks x steps for a per-rank, per-step mean), the mean wall time of a timed step, and the
     * mean time per rank and step in communication calls and, of that, blocked waiting.
     */
    public record KernelProfile(int ranks, int firstStep, int steps, double stepSeconds, List<KernelTimes.Row> rows,
                                double commSeconds, double waitSeconds) {}

    /** What {@link #measureKernelTimes} measured; null when it was not asked for. */
    public KernelProfile kernelProfile() {
        if (kernelTimes == null) return null;
        int n = kernelTimes.length;
        double seconds = 0;
        for (int r = 0; r < n; r++) seconds += timedSteps[r] == 0 ? 0 : timedSeconds[r] / timedSteps[r];
        long comm = 0, wait = 0;
        for (KernelTimes t : kernelTimes) {
            comm += t.commNanos();
            wait += t.waitNanos();
        }
        double perStep = 1e9 * n * Math.max(1, timedSteps[0]);
        return new KernelProfile(n, startStep + kernelTimesFrom + 1, timedSteps[0], seconds / n, KernelTimes.sum(Arrays.asList(kernelTimes)),
                comm / perStep, wait / perStep);
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
                cluster.writeTrace(hardware.trace());
            } catch (IOException e) {
                throw new UserError("cannot write --trace " + hardware.trace() + ": " + e.getMessage());
            }
        }
        return results.get(0);
    }

    private Map<String, float[]> runRank(Rank rank, Consumer<StepMetrics> listener, Path out, int saveEvery,
                                         double[] simDelta, long[] peaks) throws Exception {
        Device device = rank.device();
        ProcessGroup world = rank.group(Axis.DP, Axis.PP, Axis.CP, Axis.TP);
        // The ranks whose loss sums make up the batch's (only last stages hold one): dp x pp x cp.
        ProcessGroup lossGroup = rank.group(RankModel.axes(rank.mesh(), Axis.DP, Axis.PP, Axis.CP));
        RankModel model = new RankModel(rank, options, layout, dpOptions, weightsFrom);
        AdamWOptimizer optimizer = model.optimizer(options.adamw());
        if (optimizerFrom != null) RankCheckpoint.loadOptimizer(model, optimizer, optimizerFrom);
        optimizer.setStepCount(startStep);
        KernelTimes times = kernelTimes != null ? kernelTimes[rank.rank()] : null;
        device.setKernelTimes(times);
        MicroBatches batching = new MicroBatches(options.documents(), layout.cpSharding(), layout.cp(), rank.group(Axis.CP).rank());
        Evaluation evaluation = new Evaluation(dataset.validation(), options, lossGroup, batching);
        try (RankTrainer trainer = new RankTrainer(model, optimizer, lossGroup, layout, batching, rank.trace().enabled() ? rank.trace() : null)) {
            int B = options.batch(), rows = B / layout.dp(), dpRank = model.batchGroup().rank();
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
                lastStep[rank.rank()] = report(rank, sent0, model);
                simDelta[rank.rank()] = device.clock().now() - sim0;
                peaks[rank.rank()] = device.memory().peak();
                int done = step + 1;
                boolean eval = done == options.steps() || (options.evalEvery() > 0 && done % options.evalEvery() == 0);
                double val = eval ? evaluation.loss(model) : Double.NaN;
                world.barrier(); // every rank's clock and peak are in
                List<RankReport> reports = reports(rank);
                double[] slowest = slowest(rank, simDelta, peaks);
                if (rank.rank() == 0) {
                    listener.accept(new StepMetrics(done, r.lossSum() / options.tokensPerStep(), lr, r.gradNorm(),
                            options.tokensPerStep() / seconds, seconds, val, slowest[0], (long) slowest[1],
                            layout.pp() > 1 ? r.bubble() : Double.NaN,
                            reports));
                }
                boolean save = out != null && (done == options.steps() || (saveEvery > 0 && done % saveEvery == 0));
                if (save) RankCheckpoint.save(rank, model, optimizer, options, layout, (n, state) -> write(out, n, state), done);
            }
            model.gatherAll();
            Map<String, float[]> weights = RankCheckpoint.fullWeights(model, options, layout);
            model.releaseAll();
            return weights;
        }
    }

    /**
     * Every device's report of this step, in rank order, on rank 0 (empty elsewhere). In process
     * they are at hand; under MPI the first rank of each process sends its process's reports to
     * rank 0's process (after the step's barrier, so all of them are in).
     */
    private List<RankReport> reports(Rank rank) {
        if (cluster.hostsEveryRank()) return rank.rank() == 0 ? List.copyOf(Arrays.asList(lastStep)) : List.of();
        if (!cluster.leads(rank.rank())) return List.of();
        ByteArrayOutputStream mine = new ByteArrayOutputStream();
        for (int r = 0; r < lastStep.length; r++) if (cluster.hosts(r)) mine.writeBytes(lastStep[r].encode(r));
        RankReport[] all = new RankReport[lastStep.length];
        for (byte[] b : cluster.gatherToRoot(mine.toByteArray())) RankReport.decodeAll(b).forEach((r, report) -> all[r] = report);
        return rank.rank() == 0 ? List.of(all) : List.of();
    }

    /** The longest simulated step and the highest peak over every device, on rank 0 (one call per process under MPI). */
    private double[] slowest(Rank rank, double[] simDelta, long[] peaks) {
        double[] here = {Arrays.stream(simDelta).max().orElse(0), Arrays.stream(peaks).max().orElse(0)};
        return cluster.leads(rank.rank()) ? cluster.maxOverProcesses(here) : here;
    }

    private static Map<String, Long> bytesSent(Rank rank) {
        Map<String, Long> m = new TreeMap<>();
        for (var e : rank.commStats().entries()) {
            if (e.rank() == rank.rank()) m.merge(e.group() + "/" + e.kind().label(), e.bytesSent(), Long::sum);
        }
        return m;
    }

    private static RankReport report(Rank rank, Map<String, Long> sentBefore, RankModel model) {
        EnumMap<MemoryTag, Long> peak = new EnumMap<>(MemoryTag.class);
        for (MemoryTag t : MemoryTag.values()) peak.put(t, rank.device().memory().peak(t));
        Map<String, Long> sent = bytesSent(rank);
        sentBefore.forEach((k, v) -> sent.merge(k, -v, Long::sum));
        sent.values().removeIf(v -> v == 0);
        return new RankReport(peak, sent, model.dataParallel().stream().flatMapToLong(d -> Arrays.stream(d.bucketCounts())).toArray());
    }

    /** Rank 0's save of a step: into the run directory, created at the first save. */
    private void write(Path out, int step, Checkpoints.State state) {
        if (history == null) history = new CheckpointHistory(out, keepCheckpoints, startStep);
        history.save(step, Checkpoints.contents(options, layout, step, state));
    }

    @Override
    public void close() {
        cluster.close();
    }
}
