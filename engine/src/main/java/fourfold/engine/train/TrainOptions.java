package fourfold.engine.train;

import fourfold.engine.data.Documents;
import fourfold.engine.data.Sampling;
import fourfold.engine.model.LlamaConfig;

import java.nio.file.Path;

/**
 * Everything a training run depends on besides the layout. The global batch (B sequences of T
 * tokens) and every result depend only on these, never on how the run is laid out on devices.
 */
public record TrainOptions(
        LlamaConfig model,
        Path data,            // null: the embedded corpus
        int steps,
        int batch,            // B: sequences per global batch
        int seq,              // T: tokens per sequence
        double lr,
        double minLr,
        LrSchedule.Kind schedule,
        int warmup,
        double weightDecay,
        double clip,          // 0 disables
        double beta1,
        double beta2,
        double eps,
        long seed,
        Sampling sampling,
        int evalEvery,        // 0: only at the end
        int evalWindows,      // 0: the whole validation split
        Documents documents) { // --doc-mask: packed documents (null: each sequence is one document)

    public TrainOptions(LlamaConfig model, Path data, int steps, int batch, int seq, double lr, double minLr, LrSchedule.Kind schedule,
                        int warmup, double weightDecay, double clip, double beta1, double beta2, double eps, long seed, Sampling sampling,
                        int evalEvery, int evalWindows) {
        this(model, data, steps, batch, seq, lr, minLr, schedule, warmup, weightDecay, clip, beta1, beta2, eps, seed, sampling,
                evalEvery, evalWindows, null);
    }

    /** The same run with packed documents ({@code --doc-mask}), or without (null). */
    public TrainOptions withDocuments(Documents d) {
        return new TrainOptions(model, data, steps, batch, seq, lr, minLr, schedule, warmup, weightDecay, clip, beta1, beta2, eps, seed,
                sampling, evalEvery, evalWindows, d);
    }

    /** The defaults of `fourfold train`: nanoGPT's Shakespeare-char CPU example at the `tiny` size. */
    public static TrainOptions defaults(LlamaConfig model) {
        return new TrainOptions(model, null, 2000, 12, 64, 1e-3, 1e-4, LrSchedule.Kind.COSINE, 100,
                0.1, 1.0, 0.9, 0.99, 1e-8, 1337, Sampling.RANDOM, 250, 0);
    }

    public LrSchedule lrSchedule() {
        return new LrSchedule(schedule, lr, minLr, warmup, steps);
    }

    public AdamWOptimizer.Hyper adamw() {
        return new AdamWOptimizer.Hyper(beta1, beta2, eps, weightDecay);
    }

    public long tokensPerStep() {
        return (long) batch * seq;
    }
}
