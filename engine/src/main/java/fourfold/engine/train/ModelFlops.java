package fourfold.engine.train;

import fourfold.engine.model.LlamaConfig;

/**
 * Model FLOPs utilization as picotron and torchtitan count it: per token, 6 FLOPs per weight that
 * takes part in a matmul (2 forward, 4 backward) plus 12·L·C·T for the attention scores and their
 * weighted sum over T positions. The input embedding is a lookup, not a matmul, so its weights
 * are left out of N (torchtitan does the same; lm_head stays in). Recomputation and the work
 * parallelism adds (all-reduces, pipeline bubbles) are not model FLOPs, so they lower the MFU.
 */
public final class ModelFlops {
    private ModelFlops() {}

    /** Training FLOPs per token of {@code model} at sequence length {@code seq}. */
    public static double perToken(LlamaConfig model, int seq) {
        long matmulWeights = model.parameterCount() - (long) model.vocabSize() * model.dim();
        return 6.0 * matmulWeights + 12.0 * model.nLayers() * model.dim() * seq;
    }

    /**
     * The fraction of the devices' peak a step reached: model FLOPs of its tokens over
     * (simulated step time x devices x one device's peak FLOP/s).
     */
    public static double mfu(LlamaConfig model, int seq, long tokensPerStep, double simStepSeconds, int devices, double peakFlopsPerDevice) {
        if (!(simStepSeconds > 0) || !(peakFlopsPerDevice > 0)) return Double.NaN;
        return perToken(model, seq) * tokensPerStep / (simStepSeconds * devices * peakFlopsPerDevice);
    }
}
