package fourfold.it;

import fourfold.devices.MemoryTag;
import fourfold.devices.comm.ProcessGroup;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.train.Layout;
import fourfold.engine.train.RankReport;
import fourfold.engine.train.TrainOptions;
import fourfold.engine.train.Trainer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Measured memory (from the arena tags) and communication (from the byte counters) of one
 * data-parallel step equal the ZeRO formulas, per rank, for P parameters in buckets b_0..b_k
 * (backward order) over n ranks, each rank owning chunk c_i of every bucket (Σ c_i ≈ P / n):
 * <pre>
 *   params:    4P (stage 0-2)       4Σc + 4·max b          (stage 3: one gathered bucket at a time)
 *   grads:     4P (stage 0-1)       4Σc + 4·max(b_i + b_i+1) (stage 2-3: at most two full buckets in flight)
 *   optimizer: 8P (stage 0)         8Σc                     (stage 1-3)
 *   bytes:     2(n-1)/n · 4P        (stage 0: all-reduce; 1-2: reduce-scatter + all-gather)
 *              3(n-1)/n · 4P        (stage 3: reduce-scatter + all-gather before forward and again before backward)
 * </pre>
 */
class ZeroFormulasTest {
    static final TrainOptions OPTIONS = Runs.options(LlamaConfig.preset("test"), 2, 8, 32);

    @ParameterizedTest(name = "dp={0} zero={1}")
    @CsvSource({"2,0", "2,1", "2,2", "2,3", "4,0", "4,1", "4,2", "4,3"})
    void memoryAndBytesPerStepMatchTheFormulas(int n, int zero) {
        Layout layout = new Layout(n, 1, 1, 1, zero, 1, false);
        long P = OPTIONS.model().parameterCount();
        // Small buckets, so that stage 2/3's "at most two buckets in flight" is visible.
        Trainer.DpOptions dpOptions = new Trainer.DpOptions(256 << 10, true);
        try (Trainer t = new Trainer(OPTIONS, layout, Trainer.Hardware.local(1, 256L << 20), dpOptions)) {
            t.train(m -> {}, null, 0);
            double avgBytes = 0;
            for (int r = 0; r < n; r++) {
                RankReport rep = t.lastStep(r);
                long[] b = rep.bucketCounts();
                long chunks = 0, maxBucket = 0, maxPair = 0;
                for (int i = 0; i < b.length; i++) {
                    chunks += ProcessGroup.chunk(b[i], n, r).length();
                    maxBucket = Math.max(maxBucket, b[i]);
                    maxPair = Math.max(maxPair, b[i] + (i + 1 < b.length ? b[i + 1] : 0));
                }
                long params = zero < 3 ? 4 * P : 4 * chunks + 4 * maxBucket;
                long grads = zero < 2 ? 4 * P : 4 * chunks + 4 * maxPair;
                long optimizer = zero == 0 ? 8 * P : 8 * chunks;
                String what = layout + ", rank " + r + ", buckets " + java.util.Arrays.toString(b) + ": ";
                assertWithin(params, rep.peak().get(MemoryTag.PARAMS), what + "peak parameter bytes");
                assertWithin(grads, rep.peak().get(MemoryTag.GRADS), what + "peak gradient bytes");
                assertWithin(optimizer, rep.peak().get(MemoryTag.OPTIMIZER), what + "peak optimizer bytes");
                long sent = rep.bytesSent().getOrDefault("dp/reduceScatter", 0L) + rep.bytesSent().getOrDefault("dp/allGather", 0L);
                if (zero == 0) sent += rep.bytesSent().getOrDefault("dp/allReduce", 0L);
                avgBytes += sent / (double) n;
            }
            // The loss sum (and, when gradients are sharded, the squared norm) travel as 2 floats each
            // through small all-reduces; stage 0's count includes the loss's.
            double ring = (n - 1) / (double) n;
            double expected = zero == 0 ? 2 * ring * (4 * P + 8) : zero < 3 ? 2 * ring * 4 * P : 3 * ring * 4 * P;
            assertEquals(expected, avgBytes, 1.0, layout + ": bytes sent per rank per step (average over ranks) vs the ring formula");
        }
    }

    /** Within 5% (block alignment to 64 bytes adds a little). */
    static void assertWithin(long expected, long measured, String what) {
        assertEquals(expected, measured, 0.05 * expected, what + ": expected " + expected + ", measured " + measured);
    }
}
