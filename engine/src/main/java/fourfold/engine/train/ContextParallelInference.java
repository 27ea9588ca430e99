package fourfold.engine.train;

import fourfold.devices.Axis;
import fourfold.devices.Cluster;
import fourfold.devices.ClusterConfig;
import fourfold.devices.MemoryTag;
import fourfold.devices.Mesh;
import fourfold.devices.comm.ProcessGroup;
import fourfold.engine.UserError;
import fourfold.engine.cp.Algorithm;
import fourfold.engine.cp.ContextParallel;
import fourfold.engine.cp.Sharding;
import fourfold.engine.data.Batch;
import fourfold.engine.data.Documents;
import fourfold.engine.data.EvalWindows;
import fourfold.engine.data.TokenSpan;
import fourfold.engine.io.SafetensorsReader;
import fourfold.engine.model.Llama;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.model.MicroBatch;
import fourfold.engine.tensor.Scalars;
import fourfold.engine.tensor.Tensor;
import fourfold.engine.tp.TensorParallel;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * A checkpoint evaluated or sampled over a cp group of simulated devices: every rank holds the
 * whole model and its tokens of each window (the training sharding), and the token losses are
 * summed over the group. Generation recomputes the whole context per token (as {@link Inference}
 * does), split contiguously (any length works), and the rank holding the last token broadcasts
 * its logits.
 */
public final class ContextParallelInference implements AutoCloseable {
    private final Path checkpoint;
    private final LlamaConfig config;
    private final Cluster cluster;
    private final Algorithm algorithm;
    private final Sharding sharding;
    private final Documents documents;

    public ContextParallelInference(Path checkpoint, int cp, Algorithm algorithm, Sharding sharding, Documents documents, int threadsPerDevice, int rows) {
        this.checkpoint = checkpoint;
        this.config = Checkpoints.readConfig(checkpoint);
        Checkpoints.requireWeights(checkpoint, config);
        this.algorithm = algorithm;
        this.sharding = sharding;
        this.documents = documents;
        long memory = Inference.memoryFor(config, Math.max(1, rows), config.maxSeq());
        this.cluster = new Cluster(new Mesh(1, 1, cp, 1), ClusterConfig.defaults().withMemoryPerDevice(memory).withThreadsPerDevice(Math.max(1, threadsPerDevice)));
    }

    public LlamaConfig config() {
        return config;
    }

    private Llama load(fourfold.devices.Rank rank) {
        Llama model = new Llama(config, rank.device(), TensorParallel.none(), ContextParallel.of(rank.group(Axis.CP), algorithm), 0, config.nLayers());
        try (SafetensorsReader r = SafetensorsReader.open(checkpoint.resolve("model.safetensors"))) {
            model.load(p -> r.floats(p.name(), p.fullShape()));
        }
        return model;
    }

    /** Mean token loss over every non-overlapping window of {@code span}, as {@link Inference#meanLoss} (with --doc-mask if set). */
    public Inference.Loss meanLoss(TokenSpan span, int T, int rows) {
        int cp = cluster.mesh().size();
        Layout.single().withCp(cp, algorithm, sharding).validate(config, rows, T, documents != null);
        if (T > config.maxSeq()) throw new UserError("--seq " + T + " exceeds the model's max_position_embeddings " + config.maxSeq());
        var losses = cluster.run(rank -> {
            ProcessGroup group = rank.group(Axis.CP);
            MicroBatches batching = new MicroBatches(documents, sharding, cp, group.rank());
            double sum = 0;
            long tokens = 0;
            try (Llama model = load(rank)) {
                for (Batch b : new EvalWindows(span, T, rows)) {
                    sum += Scalars.allReduceSum(group, rank.device(), model.lossSum(batching.of(b)));
                    tokens += b.tokens();
                }
            }
            return new Inference.Loss(sum / tokens, tokens);
        });
        return losses.get(0);
    }

    /** Samples as {@link Inference#generate}; the prompt must have at least cp tokens (one per rank). */
    public void generate(int[] prompt, int maxTokens, double temperature, int topK, long seed, IntConsumer out) {
        int cp = cluster.mesh().size();
        if (prompt.length < cp) throw new UserError("generate --cp " + cp + " needs a prompt of at least " + cp + " bytes (one per cp rank), got " + prompt.length);
        cluster.run(rank -> {
            ProcessGroup group = rank.group(Axis.CP);
            SplittableRandom rng = new SplittableRandom(seed);
            int[] ctx = Arrays.copyOf(prompt, prompt.length + maxTokens);
            int len = prompt.length;
            MicroBatches batching = new MicroBatches(null, Sharding.CONTIGUOUS, cp, group.rank());
            try (Llama model = load(rank);
                 Tensor buf = Tensor.empty(rank.device(), MemoryTag.COMM, "logits", config.vocabSize())) {
                for (int i = 0; i < maxTokens; i++) {
                    int from = Math.max(0, len - config.maxSeq());
                    int[] window = Arrays.copyOfRange(ctx, from, len);
                    MicroBatch mb = batching.of(new Batch(window, window, 1, window.length));
                    int[] mine = mb.shard().split().index()[group.rank()];
                    boolean last = mine[mine.length - 1] == window.length - 1;
                    float[] logits = model.logitsOfRow(mb, last ? mine.length - 1 : -1);
                    if (last) buf.copyFrom(logits);
                    group.broadcast(buf.segment(), cp - 1); // contiguous: the last rank holds the last token
                    int next = Sampler.sample(buf.toArray(), temperature, topK, rng);
                    ctx[len++] = next;
                    if (rank.rank() == 0) out.accept(next);
                }
            }
            return null;
        });
    }

    @Override
    public void close() {
        cluster.close();
    }
}
