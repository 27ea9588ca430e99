package fourfold.engine.train;

import fourfold.devices.Device;
import fourfold.engine.UserError;
import fourfold.engine.data.Batch;
import fourfold.engine.data.Documents;
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

    /** For sampling: one sequence per forward pass. */
    public static Inference open(Path checkpoint, int threads) {
        return open(checkpoint, threads, 1);
    }

    /**
     * Loads a checkpoint on a device sized for forward passes of up to {@code rows} windows of
     * up to max_seq tokens.
     */
    public static Inference open(Path checkpoint, int threads, int rows) {
        LlamaConfig config = Checkpoints.readConfig(checkpoint);
        if (config.vocabSize() < 256) {
            throw new UserError("checkpoint " + checkpoint + " has vocab_size " + config.vocabSize()
                    + ", but fourfold's tokenizer is bytes (ids 0-255); it needs vocab_size >= 256");
        }
        // A damaged or mismatched file is refused before any memory is taken.
        Checkpoints.requireWeights(checkpoint, config);
        long memory = memoryFor(config, Math.max(1, rows), config.maxSeq());
        Device device = new Device(0, memory, Math.max(1, threads));
        Llama model = null;
        try (SafetensorsReader r = SafetensorsReader.open(checkpoint.resolve("model.safetensors"))) {
            model = Llama.singleDevice(config, device);
            Llama m = model;
            m.load(p -> r.floats(p.name(), p.fullShape()));
        } catch (RuntimeException | Error e) {
            if (model != null) model.close();
            device.close();
            throw e;
        }
        return new Inference(config, device, model);
    }

    /**
     * Device memory for the weights and one forward pass of rows x T tokens. A loss-only forward
     * holds about one block's activations at a time: per token a few vectors of width C and F,
     * the attention rows of all heads, and the logits with their softmax (4 V). Doubled, plus
     * 64 MiB. (Measured peaks with 32 windows: `test` 4.4 MB, `tiny` 22.6 MB; this gives 85 and
     * 138 MB.) Not more than needed: a device's arena is zeroed when it starts, which takes time.
     */
    static long memoryFor(LlamaConfig c, int rows, int T) {
        long weights = 4L * c.parameterCount();
        long perToken = 4L * c.vocabSize() + 4L * c.ffnDim() + 8L * c.dim() + 2L * c.nHeads() * T;
        long activations = 4L * rows * T * perToken;
        return 2 * (weights + activations) + (64L << 20);
    }

    public LlamaConfig config() {
        return config;
    }

    /** Mean token loss over every non-overlapping window of {@code span}, {@code rows} windows per pass. */
    public Loss meanLoss(TokenSpan span, int T, int rows) {
        return meanLoss(span, T, rows, null);
    }

    /** As {@link #meanLoss(TokenSpan, int, int)}, with packed documents (--doc-mask) unless {@code documents} is null. */
    public Loss meanLoss(TokenSpan span, int T, int rows, Documents documents) {
        if (T < 1 || rows < 1) throw new UserError("--seq and --batch must be >= 1, got " + T + " and " + rows);
        if (T > config.maxSeq()) throw new UserError("--seq " + T + " exceeds the model's max_position_embeddings " + config.maxSeq() + "; use --seq " + config.maxSeq() + " or less");
        double sum = 0;
        long tokens = 0;
        MicroBatches batching = MicroBatches.single(documents);
        for (Batch b : new EvalWindows(span, T, rows)) {
            sum += model.lossSum(batching.of(b));
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
