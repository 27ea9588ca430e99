package fourfold.engine.train;

import fourfold.engine.data.Batch;
import fourfold.engine.model.Llama;
import fourfold.engine.model.MicroBatch;

/**
 * One rank's part of a training step (the SPMD program): forward and backward of each of its
 * micro-batches, then gradient norm, clipping and the optimizer update.
 */
public final class RankTrainer implements AutoCloseable {
    private final Llama model;
    private final AdamWOptimizer optimizer;
    private final int microBatches;

    /** What a step produced on this rank. */
    public record StepResult(double lossSum, double gradNorm) {}

    public RankTrainer(Llama model, AdamWOptimizer optimizer, int microBatches) {
        this.model = model;
        this.optimizer = optimizer;
        this.microBatches = microBatches;
    }

    public Llama model() {
        return model;
    }

    public AdamWOptimizer optimizer() {
        return optimizer;
    }

    /**
     * One step over {@code local} (this rank's rows of the global batch). Gradients are of the loss
     * sum / {@code globalTokens}, so the update is the single-device one whatever the split.
     */
    public StepResult step(Batch local, long globalTokens, double lr, double clip) {
        model.zeroGrads();
        float gradScale = (float) (1.0 / globalTokens);
        int rows = local.B() / microBatches;
        double lossSum = 0;
        for (int m = 0; m < microBatches; m++) {
            Batch part = local.rows(m * rows, rows);
            MicroBatch mb = MicroBatch.causal(part.B(), part.T(), part.inputs(), part.targets());
            Llama.ForwardContext ctx = model.forward(mb, null, gradScale);
            lossSum += ctx.lossSum();
            model.backward(ctx, null);
        }
        double norm = Math.sqrt(optimizer.gradSumOfSquares());
        float factor = GradClip.factor(norm, clip);
        if (factor < 1f) optimizer.scaleGrads(factor);
        optimizer.step(lr);
        return new StepResult(lossSum, norm);
    }

    /** Sum of token losses over a batch, forward only. */
    public double lossSum(Batch b) {
        return model.lossSum(MicroBatch.causal(b.B(), b.T(), b.inputs(), b.targets()));
    }

    @Override
    public void close() {
        optimizer.close();
        model.close();
    }
}
