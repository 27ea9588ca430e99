package fourfold.engine.pp;

import fourfold.engine.tensor.Tensor;

/**
 * What the {@link Executor} runs for one model chunk (one global stage) of a rank: the compute
 * of each action kind, by micro-batch. Tensors handed in are the executor's (it frees them after
 * the call); tensors handed back are described per method.
 */
public interface StageWork {
    /** Shape of the activation entering this stage (and of the gradient leaving it) for a micro-batch: (rows, C). */
    int[] boundaryShape(int microBatch);

    /**
     * F. {@code input}: the previous stage's output, null on the first stage. Returns this stage's
     * output to send on, which stays the stage's until {@link #sent} (null on the last stage).
     */
    Tensor forward(int microBatch, Tensor input);

    /** The output of F(microBatch) has been sent: the stage may drop it if backward does not need it. */
    default void sent(int microBatch) {}

    /** BW. {@code dOutput}: gradient of the output, null on the last stage. Returns the input gradient (the executor frees it), null on the first stage. */
    Tensor backward(int microBatch, Tensor dOutput);

    /** B: as {@link #backward}, keeping what W needs. */
    Tensor backwardInput(int microBatch, Tensor dOutput);

    /** W: the weight gradients B left. */
    void backwardWeights(int microBatch);
}
