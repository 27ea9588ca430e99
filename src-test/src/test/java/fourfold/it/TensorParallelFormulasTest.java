package fourfold.it;

import fourfold.devices.MemoryTag;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.train.Layout;
import fourfold.engine.train.TrainOptions;
import fourfold.engine.train.Trainer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Bytes sent over the tp group in one step equal Megatron's counts, with S = B·T·C floats, L layers,
 * N = B·T tokens, ring factor (n-1)/n:
 * <pre>
 *   without sequence parallel: all-reduce of S, 2 per block forward and 2 backward, plus the
 *     vocab-parallel embedding (forward) and lm_head input gradient (backward): (4L + 2)·S,
 *     plus 3N floats of softmax statistics and 2 floats of the squared gradient norm.
 *   with sequence parallel: all-gather / reduce-scatter of S instead: per block forward 2 AG + 2 RS,
 *     backward 4 AG (output gradients, and inputs gathered again for weight gradients, as Megatron
 *     does rather than keep them) + 2 RS; embedding RS forward, AG backward; head AG forward,
 *     AG + RS backward: (6L + 3) AG and (4L + 2) RS of S; all-reduces of 3N statistics, the
 *     (2L + 1)·C norm-weight gradients (each rank normalized only its tokens) and 2 floats.
 * </pre>
 */
class TensorParallelFormulasTest {
    static final LlamaConfig MODEL = LlamaConfig.of(256, 64, 4, 4, 4, 128, 32);
    static final TrainOptions OPTIONS = Runs.options(MODEL, 2, 8, 32);

    @ParameterizedTest(name = "tp={0}")
    @ValueSource(ints = {2, 4})
    void bytesPerStepMatchMegatronsCounts(int n) {
        int L = MODEL.nLayers(), C = MODEL.dim();
        long N = (long) OPTIONS.batch() * OPTIONS.seq(), S = N * C;
        double ring = (n - 1) / (double) n;
        Map<String, Double> plain = sent(new Layout(1, 1, 1, n, 0, 1, false), n);
        assertEquals(2 * ring * 4 * ((4L * L + 2) * S + 3 * N + 2), plain.getOrDefault("tp/allReduce", 0.0), 1.0, "tp=" + n + ": all-reduce bytes");
        assertEquals(0.0, plain.getOrDefault("tp/allGather", 0.0) + plain.getOrDefault("tp/reduceScatter", 0.0), "no all-gather / reduce-scatter without SP");

        Map<String, Double> sp = sent(new Layout(1, 1, 1, n, 0, 1, true), n);
        assertEquals(ring * 4 * (6L * L + 3) * S, sp.getOrDefault("tp/allGather", 0.0), 1.0, "tp=" + n + " SP: all-gather bytes");
        assertEquals(ring * 4 * (4L * L + 2) * S, sp.getOrDefault("tp/reduceScatter", 0.0), 1.0, "tp=" + n + " SP: reduce-scatter bytes");
        assertEquals(2 * ring * 4 * (3 * N + (2L * L + 1) * C + 2), sp.getOrDefault("tp/allReduce", 0.0), 1.0, "tp=" + n + " SP: all-reduce bytes");
    }

    /** Average over ranks of the bytes each sent in the last step, by "group/kind". */
    static Map<String, Double> sent(Layout layout, int n) {
        try (Trainer t = new Trainer(OPTIONS, layout, Trainer.Hardware.local(1, 256L << 20))) {
            t.train(m -> {}, null, 0);
            Map<String, Double> avg = new java.util.TreeMap<>();
            for (int r = 0; r < n; r++) t.lastStep(r).bytesSent().forEach((k, v) -> avg.merge(k, v / (double) n, Double::sum));
            return avg;
        }
    }

    @ParameterizedTest(name = "tp={0}")
    @ValueSource(ints = {2, 4})
    void sequenceParallelSavesTheNormAndResidualActivations(int n) {
        int L = MODEL.nLayers(), C = MODEL.dim();
        long N = (long) OPTIONS.batch() * OPTIONS.seq();
        long without = peakActivations(new Layout(1, 1, 1, n, 0, 1, false));
        long with = peakActivations(new Layout(1, 1, 1, n, 0, 1, true));
        // Kept from forward to backward, per rank: per block the norm outputs (2·N·C), their 1/rms
        // (2·N), the residual h (N·C) and the block output (N·C); the embeddings (N·C); the final
        // norm's output (N·C) and 1/rms (N). Sequence parallel keeps 1/tp of each.
        long kept = 4L * (L * (4 * N * C + 2 * N) + N * C + N * C + N);
        long predicted = Math.round(kept * (1 - 1.0 / n));
        System.out.printf("tp=%d: peak activations %d B without SP, %d B with SP: saved %d B, predicted %d B%n", n, without, with, without - with, predicted);
        assertEquals(predicted, without - with, 0.10 * predicted, "tp=" + n + ": activation bytes saved by sequence parallel vs the norm/residual prediction");
    }

    static long peakActivations(Layout layout) {
        try (Trainer t = new Trainer(OPTIONS, layout, Trainer.Hardware.local(1, 256L << 20))) {
            t.train(m -> {}, null, 0);
            return t.lastStep(0).peak().get(MemoryTag.ACTIVATIONS);
        }
    }
}
