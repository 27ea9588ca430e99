package fourfold.engine.train;

import fourfold.devices.Axis;
import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.devices.Rank;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.ReduceOp;
import fourfold.engine.io.SafetensorsReader;
import fourfold.engine.model.Init;
import fourfold.engine.model.Parameter;
import fourfold.engine.pp.StageSplit;
import fourfold.engine.tensor.Tensor;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** A rank's side of checkpoints: whole tensors for saving (every rank takes part), and its optimizer slices on resume. */
final class RankCheckpoint {
    private RankCheckpoint() {}

    private static StageSplit split(TrainOptions options, Layout layout) {
        return StageSplit.of(options.model(), layout.stages(), layout.pipeline().stageLayers());
    }

    /** Where rank 0 puts the assembled checkpoint of a step (the run directory's history). */
    interface Writer {
        void write(int step, Checkpoints.State state);
    }

    /** Every rank takes part (collectives); rank 0 hands the whole tensors to {@code writer}. */
    static void save(Rank rank, RankModel model, AdamWOptimizer optimizer, TrainOptions options, Layout layout, Writer writer, int step) {
        model.gatherAll();
        Map<String, float[]> weights = fullWeights(model, options, layout);
        model.releaseAll();
        StageSplit split = split(options, layout);
        boolean sharded = !model.dataParallel().isEmpty() && model.dataParallel().getFirst().gradientsSharded();
        Map<String, float[]> m = CheckpointAssembly.assemble(model, options.model(), split, p -> localMoment(model, optimizer, p, 0, sharded));
        Map<String, float[]> v = CheckpointAssembly.assemble(model, options.model(), split, p -> localMoment(model, optimizer, p, 1, sharded));
        Map<String, int[]> shapes = CheckpointAssembly.shapes(options.model(), split, model.device(), model.tp());
        if (rank.rank() == 0) writer.write(step, new Checkpoints.State(weights, shapes, m, v));
        rank.group(Axis.DP, Axis.PP, Axis.CP, Axis.TP).barrier();
    }

    /** This rank's tp shard of moment k (0: exp_avg, 1: exp_avg_sq) of p; under ZeRO each dp rank holds disjoint ranges, zeros elsewhere: a sum assembles them. */
    private static float[] localMoment(RankModel model, AdamWOptimizer optimizer, Parameter p, int k, boolean sharded) {
        float[] local = new float[Math.toIntExact(p.localNumel())];
        for (AdamWOptimizer.Slot s : optimizer.slots()) {
            if (!s.name().equals(p.name())) continue;
            float[] values = (k == 0 ? s.m() : s.v()).toArray();
            System.arraycopy(values, 0, local, (int) s.offset(), values.length);
        }
        return sharded ? sum(model.dpGroup(), model.device(), local) : local;
    }

    /** Every parameter's full values by name, on pp rank 0 (parameters must be materialized: ZeRO-3 gathered). */
    static Map<String, float[]> fullWeights(RankModel model, TrainOptions options, Layout layout) {
        return CheckpointAssembly.assemble(model, options.model(), split(options, layout), p -> p.data().toArray());
    }

    private static float[] sum(ProcessGroup group, Device dev, float[] values) {
        try (Tensor t = Tensor.of(dev, MemoryTag.COMM, "assemble", values, values.length)) {
            group.allReduce(t.segment(), ReduceOp.SUM);
            return t.toArray();
        }
    }

    /** Each slot takes its range of its parameter's local slice of the saved full moments. */
    static void loadOptimizer(RankModel model, AdamWOptimizer optimizer, Path optimizerFrom) {
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
}
