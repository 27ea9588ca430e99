package fourfold.engine.train;

import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.ReduceOp;
import fourfold.devices.trace.Tracer;
import fourfold.engine.data.Batch;
import fourfold.engine.dp.DataParallel;
import fourfold.engine.kernels.Elementwise;
import fourfold.engine.model.Llama;
import fourfold.engine.model.MicroBatch;
import fourfold.engine.model.Parameter;
import fourfold.engine.pp.Action;
import fourfold.engine.pp.Executor;
import fourfold.engine.pp.LlamaStage;
import fourfold.engine.pp.PipelineBubble;
import fourfold.engine.pp.Schedules;
import fourfold.engine.pp.StageWork;
import fourfold.engine.tensor.Scalars;
import fourfold.engine.tp.TensorParallel;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One rank's part of a training step (the SPMD program every rank runs): its action list of the
 * pipeline schedule run by the {@link Executor} on its chunks (pp = 1: F, BW per micro-batch),
 * gradient reduction (data parallel, started by the backwards themselves), the gradient norm over
 * every axis, clipping and the optimizer update.
 */
public final class RankTrainer implements AutoCloseable {
    private final RankModel model;
    private final AdamWOptimizer optimizer;
    private final ProcessGroup lossGroup;   // the ranks whose loss sums add up to the batch's: dp x pp x cp
    private final int microBatches;
    private final List<Action> actions;
    private final MicroBatches batching;
    private final Tracer tracer;
    private final Map<String, Parameter> byName = new HashMap<>();

    /** What a step produced: the loss sum over the whole global batch, the global gradient norm, the pipeline bubble (0 without pp). */
    public record StepResult(double lossSum, double gradNorm, double bubble) {}

    public RankTrainer(RankModel model, AdamWOptimizer optimizer, ProcessGroup lossGroup, Layout layout, MicroBatches batching,
                       Tracer tracer) {
        this.batching = batching;
        this.model = model;
        this.optimizer = optimizer;
        this.lossGroup = lossGroup;
        this.microBatches = layout.microBatches();
        this.actions = Schedules.named(layout.pipeline().schedule())
                .actions(layout.pp(), microBatches, layout.pipeline().virtualStages()).get(model.ppGroup().rank());
        this.tracer = tracer;
        for (Parameter p : model.parameters()) byName.put(p.name(), p);
    }

    public RankModel model() {
        return model;
    }

    public AdamWOptimizer optimizer() {
        return optimizer;
    }

    /**
     * One step over {@code local} (this rank's rows of the global batch). Gradients are of the loss
     * sum / {@code globalTokens}, so their sum over ranks is the single-device gradient.
     */
    public StepResult step(Batch local, long globalTokens, double lr, double clip) {
        model.chunks().forEach(Llama::zeroGrads);
        float gradScale = (float) (1.0 / globalTokens);
        List<MicroBatch> mbs = batching.split(local, microBatches);
        List<LlamaStage> stages = new ArrayList<>();
        for (Llama c : model.chunks()) stages.add(new LlamaStage(c, mbs, gradScale));
        model.dataParallel().forEach(d -> d.beginStep(microBatches));
        Executor.Times times;
        try {
            times = new Executor(model.ppGroup(), new ArrayList<StageWork>(stages), tracer).run(actions);
        } finally {
            stages.forEach(LlamaStage::close);
        }
        double lossSum = 0;
        for (LlamaStage s : stages) lossSum += s.lossSum();
        model.dataParallel().forEach(DataParallel::finishGradients);
        reduceSequenceParallelGrads();
        double norm = Math.sqrt(globalGradSumOfSquares());
        float factor = GradClip.factor(norm, clip);
        if (factor < 1f) optimizer.scaleGrads(factor);
        optimizer.step(lr);
        model.dataParallel().forEach(DataParallel::afterOptimizerStep);
        double bubble = PipelineBubble.measure(model.ppGroup(), times);
        return new StepResult(Scalars.allReduceSum(lossGroup, model.device(), lossSum), norm, bubble);
    }

    /**
     * With sequence parallel each tp rank normalizes only its own token rows, so the gradients of
     * the (replicated) norm weights are partial sums: add them up over the tp group.
     */
    private void reduceSequenceParallelGrads() {
        TensorParallel tp = model.tp();
        if (!tp.sequenceParallel()) return;
        for (AdamWOptimizer.Slot s : optimizer.slots()) {
            if (byName.get(s.name()).shardDim() < 0) tp.group().allReduce(s.grad().get().segment(), ReduceOp.SUM);
        }
    }

    /**
     * The squared norm of the whole model's gradient: tp-sharded weights summed over the tp group,
     * replicated ones (identical on every tp rank) counted once, summed over the dp group when
     * ZeRO shards the gradients, and over the pp group (each stage holds its own layers).
     */
    private double globalGradSumOfSquares() {
        double sharded = 0, replicated = 0;
        for (AdamWOptimizer.Slot s : optimizer.slots()) {
            double sq = Elementwise.sumOfSquares(s.grad().get());
            if (byName.get(s.name()).shardDim() >= 0 && model.tp().size() > 1) sharded += sq;
            else replicated += sq;
        }
        double total = model.tp().allReduceSum(model.device(), sharded) + replicated;
        List<DataParallel> dp = model.dataParallel();
        if (!dp.isEmpty() && dp.getFirst().gradientsSharded()) total = Scalars.allReduceSum(model.dpGroup(), model.device(), total);
        return Scalars.allReduceSum(model.ppGroup(), model.device(), total);
    }

    @Override
    public void close() {
        optimizer.close();
        model.close();
    }
}
