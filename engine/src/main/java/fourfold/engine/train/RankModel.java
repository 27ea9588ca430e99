package fourfold.engine.train;

import fourfold.devices.Axis;
import fourfold.devices.Device;
import fourfold.devices.Mesh;
import fourfold.devices.Rank;
import fourfold.devices.comm.ProcessGroup;
import fourfold.engine.cp.ContextParallel;
import fourfold.engine.dp.DataParallel;
import fourfold.engine.io.SafetensorsReader;
import fourfold.engine.model.Llama;
import fourfold.engine.model.Parameter;
import fourfold.engine.pp.StageSplit;
import fourfold.engine.tp.TensorParallel;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What one rank holds of the model: its chunks (local chunk c is global stage c·pp + pp rank,
 * a {@link Llama} over that stage's layers, its attention handed the cp handle), their
 * data-parallel wrappers and the groups of its axes. Built the same way whatever the layout.
 */
public final class RankModel implements AutoCloseable {
    private final Device device;
    private final TensorParallel tp;
    private final ProcessGroup batchGroup; // which rows of the global batch: dp
    private final ProcessGroup dpGroup;    // which tokens, the group gradients are summed over: dp x cp
    private final ProcessGroup ppGroup;
    private final List<Llama> chunks = new ArrayList<>();
    private final List<DataParallel> dp = new ArrayList<>(); // one per chunk, empty without data parallel

    /** Builds the rank's chunks with weights from {@code weightsFrom} (a checkpoint directory) or the seeded init. */
    public RankModel(Rank rank, TrainOptions options, Layout layout, Trainer.DpOptions dpOptions, Path weightsFrom) {
        this.device = rank.device();
        this.tp = TensorParallel.of(rank.group(Axis.TP), layout.sequenceParallel());
        this.batchGroup = rank.group(Axis.DP);
        this.dpGroup = rank.group(axes(rank.mesh(), Axis.DP, Axis.CP));
        this.ppGroup = rank.group(Axis.PP);
        ContextParallel cp = ContextParallel.of(rank.group(Axis.CP), layout.cpAlgorithm());
        StageSplit split = StageSplit.of(options.model(), layout.stages(), layout.pipeline().stageLayers());
        for (int s = ppGroup.rank(); s < split.stages(); s += ppGroup.size()) {
            chunks.add(new Llama(options.model(), device, tp, cp, split.firstLayer(s), split.endLayer(s)));
        }
        for (Llama model : chunks) {
            if (weightsFrom != null) {
                try (SafetensorsReader r = SafetensorsReader.open(weightsFrom.resolve("model.safetensors"))) {
                    model.load(p -> r.floats(p.name(), p.fullShape()));
                }
            } else {
                model.initialize(options.seed());
            }
            if (dpGroup.size() > 1 || layout.zero() > 0) {
                dp.add(new DataParallel(model, dpGroup, layout.zero(), dpOptions.bucketBytes(), dpOptions.reshardAfterForward()));
            }
        }
    }

    /** A rank of a one-device cluster holding {@code whole} (the whole model, already loaded), without data parallel. */
    public RankModel(Rank rank, Llama whole) {
        this.device = rank.device();
        this.tp = whole.tp();
        this.batchGroup = rank.group(Axis.DP);
        this.dpGroup = batchGroup;
        this.ppGroup = rank.group(Axis.PP);
        chunks.add(whole);
    }

    public Device device() {
        return device;
    }

    public TensorParallel tp() {
        return tp;
    }

    /**
     * {@code axes} without those of size 1 on {@code mesh} (the first is always kept), so that
     * without cp or pp a group is the one of the remaining axes, named as before.
     */
    static Axis[] axes(Mesh mesh, Axis first, Axis... more) {
        List<Axis> kept = new ArrayList<>(List.of(first));
        for (Axis a : more) if (mesh.size(a) > 1) kept.add(a);
        return kept.toArray(Axis[]::new);
    }

    /** The dp group: which rows of the global batch this rank trains on. */
    public ProcessGroup batchGroup() {
        return batchGroup;
    }

    /** The group gradients are summed over: dp, times cp under context parallel. */
    public ProcessGroup dpGroup() {
        return dpGroup;
    }

    public ProcessGroup ppGroup() {
        return ppGroup;
    }

    public List<Llama> chunks() {
        return chunks;
    }

    public List<DataParallel> dataParallel() {
        return dp;
    }

    /** Every parameter of every chunk, in stage order. */
    public List<Parameter> parameters() {
        List<Parameter> all = new ArrayList<>();
        for (Llama c : chunks) all.addAll(c.parameters());
        return all;
    }

    /** The optimizer over this rank's parameters (its ZeRO slices under data parallel). */
    public AdamWOptimizer optimizer(AdamWOptimizer.Hyper hyper) {
        if (dp.isEmpty()) return AdamWOptimizer.forParameters(parameters(), hyper);
        List<AdamWOptimizer.Slot> slots = new ArrayList<>();
        for (DataParallel d : dp) slots.addAll(d.optimizerSlots());
        return new AdamWOptimizer(slots, hyper);
    }

    /** ZeRO-3: materializes every parameter until {@link #releaseAll} (checkpoints, evaluation). */
    public void gatherAll() {
        dp.forEach(DataParallel::gatherAll);
    }

    public void releaseAll() {
        dp.forEach(DataParallel::releaseAll);
    }

    @Override
    public void close() {
        dp.forEach(DataParallel::close);
        chunks.forEach(Llama::close);
    }
}
