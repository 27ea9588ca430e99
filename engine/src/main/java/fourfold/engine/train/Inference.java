package fourfold.engine.train;

import fourfold.devices.Device;
import fourfold.engine.data.Batch;
import fourfold.engine.data.EvalWindows;
import fourfold.engine.data.TokenSpan;
import fourfold.engine.io.SafetensorsReader;
import fourfold.engine.model.Llama;
import fourfold.engine.model.LlamaConfig;

import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/** A checkpoint loaded on one device, for evaluation and sampling. */
public final class Inference implements AutoCloseable {
    private final LlamaConfig config;
    private final Device device;
    private final Llama model;

    public record Loss(double loss, long tokens) {}

    private Inference(LlamaConfig config, Device device, Llama model) {
        this.config = config;
        this.device = device;
        this.model = model;
    }

    public static Inference open(Path checkpoint, int threads) {
        LlamaConfig config = Checkpoints.readConfig(checkpoint);
        // Room for the weights and the activations of one evaluation batch, with margin.
        long memory = Math.max(256L << 20, config.parameterCount() * 4 * 2 + (512L << 20));
        Device device = new Device(0, memory, Math.max(1, threads));
        Llama model = Llama.singleDevice(config, device);
        try (SafetensorsReader r = SafetensorsReader.open(checkpoint.resolve("model.safetensors"))) {
            model.load(p -> r.floats(p.name(), p.fullShape()));
        } catch (RuntimeException e) {
            model.close();
            device.close();
            throw e;
        }
        return new Inference(config, device, model);
    }

    public LlamaConfig config() {
        return config;
    }

    /** Mean token loss over every non-overlapping window of {@code span}, {@code rows} windows per pass. */
    public Loss meanLoss(TokenSpan span, int T, int rows) {
        if (T > config.maxSeq()) throw new fourfold.engine.UserError("--seq " + T + " exceeds the model's max_position_embeddings " + config.maxSeq());
        double sum = 0;
        long tokens = 0;
        for (Batch b : new EvalWindows(span, T, rows)) {
            sum += model.lossSum(fourfold.engine.model.MicroBatch.causal(b.B(), b.T(), b.inputs(), b.targets()));
            tokens += b.tokens();
        }
        return new Loss(sum / tokens, tokens);
    }

    /**
     * Samples {@code maxTokens} tokens after {@code prompt}: softmax(logits / temperature) over the
     * top-k (all when 0), greedy at temperature 0. The context is cut to the last max_seq tokens.
     */
    public void generate(int[] prompt, int maxTokens, double temperature, int topK, long seed, IntConsumer out) {
        SplittableRandom rng = new SplittableRandom(seed);
        int[] ctx = prompt.clone();
        int len = ctx.length;
        ctx = java.util.Arrays.copyOf(ctx, len + maxTokens);
        for (int i = 0; i < maxTokens; i++) {
            int from = Math.max(0, len - config.maxSeq());
            float[] logits = model.lastLogits(java.util.Arrays.copyOfRange(ctx, from, len));
            int next = Sampler.sample(logits, temperature, topK, rng);
            ctx[len++] = next;
            out.accept(next);
        }
    }

    @Override
    public void close() {
        model.close();
        device.close();
    }
}
