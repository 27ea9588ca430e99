package fourfold.engine.pp;

import fourfold.engine.model.DeferredWeightGrads;
import fourfold.engine.model.Llama;
import fourfold.engine.model.MicroBatch;
import fourfold.engine.tensor.Tensor;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A model chunk as the executor drives it in a training step: each micro-batch's forward
 * context waits for its backward, each split backward's weight work for its W. The last stage
 * adds up the token losses.
 */
public final class LlamaStage implements StageWork, AutoCloseable {
    private final Llama model;
    private final List<MicroBatch> microBatches;
    private final float gradScale;
    private final Map<Integer, Llama.ForwardContext> forwards = new HashMap<>();
    private final Map<Integer, DeferredWeightGrads.Work> weightWork = new HashMap<>();
    private double lossSum;

    /** {@code gradScale}: 1 / tokens of the global batch, whatever the number of micro-batches. */
    public LlamaStage(Llama model, List<MicroBatch> microBatches, float gradScale) {
        this.model = model;
        this.microBatches = microBatches;
        this.gradScale = gradScale;
    }

    /** Sum of the token losses of this step's micro-batches (last stage; 0 elsewhere). */
    public double lossSum() {
        return lossSum;
    }

    @Override
    public int[] boundaryShape(int microBatch) {
        return new int[]{model.tp().localRows(microBatches.get(microBatch).tokens()), model.config().dim()};
    }

    @Override
    public Tensor forward(int microBatch, Tensor input) {
        Llama.ForwardContext ctx = model.forward(microBatches.get(microBatch), input, gradScale);
        forwards.put(microBatch, ctx);
        lossSum += ctx.lossSum();
        return model.isLastStage() ? null : ctx.output();
    }

    @Override
    public Tensor backward(int microBatch, Tensor dOutput) {
        return model.backward(forwards.remove(microBatch), dOutput);
    }

    @Override
    public Tensor backwardInput(int microBatch, Tensor dOutput) {
        Llama.InputGrad g = model.backwardInput(forwards.remove(microBatch), dOutput);
        weightWork.put(microBatch, g.weights());
        return g.dInput();
    }

    @Override
    public void backwardWeights(int microBatch) {
        model.backwardWeights(weightWork.remove(microBatch));
    }

    /** Frees what a failed step left. */
    @Override
    public void close() {
        forwards.values().forEach(Llama.ForwardContext::close);
        weightWork.values().forEach(DeferredWeightGrads.Work::close);
    }
}
