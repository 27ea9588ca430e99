package fourfold.engine.train;

import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.ReduceOp;
import fourfold.engine.data.Batch;
import fourfold.engine.dp.DataParallel;
import fourfold.engine.model.Llama;
import fourfold.engine.model.MicroBatch;
import fourfold.engine.model.Parameter;
import fourfold.engine.tensor.Scalars;
import fourfold.engine.tp.TensorParallel;

import java.util.HashMap;
import java.util.Map;

/**
 * One rank's part of a training step (the SPMD program every rank runs): forward and backward of
 * its micro-batches, gradient reduction (data parallel), the global gradient norm, clipping and
 * the optimizer update.
 */
public final class RankTrainer implements AutoCloseable {
    private final Llama model;
    private final AdamWOptimizer optimizer;
    private final DataParallel dp;          // null without data parallel
    private final ProcessGroup dpGroup;     // the group that splits the tokens (dp x cp: loss sums), or null
    private final int microBatches;
    private final MicroBatches batching;
    private final Map<String, Parameter> byName = new HashMap<>();

    /** What a step produced: the loss sum over the whole global batch and the global gradient norm. */
    public record StepResult(double lossSum, double gradNorm) {}

    public RankTrainer(Llama model, AdamWOptimizer optimizer, DataParallel dp, ProcessGroup dpGroup, int microBatches) {
        this(model, optimizer, dp, dpGroup, microBatches, MicroBatches.single(null));
    }

    public RankTrainer(Llama model, AdamWOptimizer optimizer, DataParallel dp, ProcessGroup dpGroup, int microBatches, MicroBatches batching) {
        this.batching = batching;
        this.model = model;
        this.optimizer = optimizer;
        this.dp = dp;
        this.dpGroup = dpGroup;
        this.microBatches = microBatches;
        for (Parameter p : model.parameters()) byName.put(p.name(), p);
    }

    public Llama model() {
        return model;
    }

    public AdamWOptimizer optimizer() {
        return optimizer;
    }

    public MicroBatches batching() {
        return batching;
    }

    public DataParallel dataParallel() {
        return dp;
    }

    /**
     * One step over {@code local} (this rank's rows of the global batch). Gradients are of the loss
     * sum / {@code globalTokens}, so their sum over ranks is the single-device gradient.
     */
    public StepResult step(Batch local, long globalTokens, double lr, double clip) {
        model.zeroGrads();
        float gradScale = (float) (1.0 / globalTokens);
        int rows = local.B() / microBatches;
        double lossSum = 0;
        for (int m = 0; m < microBatches; m++) {
            Batch part = local.rows(m * rows, rows);
            MicroBatch mb = batching.of(part);
            if (dp != null) dp.beginMicroBatch(m, microBatches);
            Llama.ForwardContext ctx = model.forward(mb, null, gradScale);
            lossSum += ctx.lossSum();
            model.backward(ctx, null);
        }
        if (dp != null) dp.finishGradients();
        reduceSequenceParallelGrads();
        double norm = Math.sqrt(globalGradSumOfSquares());
        float factor = GradClip.factor(norm, clip);
        if (factor < 1f) optimizer.scaleGrads(factor);
        optimizer.step(lr);
        if (dp != null) dp.afterOptimizerStep();
        return new StepResult(Scalars.allReduceSum(dpGroup, model.device(), lossSum), norm);
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
     * replicated ones (identical on every tp rank) counted once, and, when ZeRO shards the
     * gradients over the dp group, summed over it.
     */
    private double globalGradSumOfSquares() {
        double sharded = 0, replicated = 0;
        for (AdamWOptimizer.Slot s : optimizer.slots()) {
            double sq = fourfold.engine.kernels.Elementwise.sumOfSquares(s.grad().get());
            if (byName.get(s.name()).shardDim() >= 0 && model.tp().size() > 1) sharded += sq;
            else replicated += sq;
        }
        double total = model.tp().allReduceSum(model.device(), sharded) + replicated;
        if (dp != null && dp.gradientsSharded()) total = Scalars.allReduceSum(dp.group(), model.device(), total);
        return total;
    }

    @Override
    public void close() {
        optimizer.close();
        if (dp != null) dp.close();
        model.close();
    }
}
