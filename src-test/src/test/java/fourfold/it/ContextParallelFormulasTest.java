package fourfold.it;

import fourfold.engine.cp.Algorithm;
import fourfold.engine.cp.Sharding;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.train.Layout;
import fourfold.engine.train.TrainOptions;
import fourfold.engine.train.Trainer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Bytes each cp rank sends in one step, against each algorithm's formula. A K/V block of n
 * tokens is 2·n·w floats, w = nkv·hs; per layer and micro-batch:
 * <ul>
 *   <li>allgather: forward all-gather and backward reduce-scatter of [K | V], each (cp-1) chunks
 *   of 2·m·w floats (m = the largest rank's token count);</li>
 *   <li>ring, headtail (every rank sees every block): forward cp-1 K/V blocks; backward cp-1 K/V
 *   blocks and cp dK/dV blocks (cp-1 onward, one home): (3cp-2) blocks;</li>
 *   <li>ring, contiguous: rank r &lt; cp-1 passes blocks 0..r on (r+1 blocks, 3 times: K/V forward,
 *   K/V and dK/dV backward); the last rank passes nothing on and sends cp-1 dK/dV blocks home.
 *   Blocks nobody further on can see are not sent.</li>
 * </ul>
 */
class ContextParallelFormulasTest {
    static final LlamaConfig MODEL = LlamaConfig.of(256, 64, 2, 4, 2, 128, 64);
    static final TrainOptions OPTIONS = Runs.options(MODEL, 1, 4, 64);

    static Map<String, Long> sent(Layout layout, int rank, Trainer t) {
        return t.lastStep(rank).bytesSent();
    }

    @ParameterizedTest(name = "cp={0}")
    @ValueSource(ints = {2, 4})
    void bytesPerStepPerRankMatchTheFormulas(int cp) {
        int L = MODEL.nLayers();
        long w = (long) MODEL.nKvHeads() * MODEL.headSize();
        long n = (long) OPTIONS.batch() * OPTIONS.seq() / cp; // tokens per rank (equal under both shardings here)
        long block = 2 * n * w * Float.BYTES;
        check(Layout.single().withCp(cp, Algorithm.ALLGATHER, Sharding.HEADTAIL), cp, r -> Map.of(
                "cp/allGather", L * (cp - 1) * block, "cp/reduceScatter", L * (cp - 1) * block));
        check(Layout.single().withCp(cp, Algorithm.RING, Sharding.HEADTAIL), cp, r -> Map.of("cp/sendRecv", L * (3L * cp - 2) * block));
        check(Layout.single().withCp(cp, Algorithm.RING, Sharding.CONTIGUOUS), cp, r -> Map.of("cp/sendRecv",
                L * (r < cp - 1 ? 3L * (r + 1) : cp - 1) * block));
    }

    private static void check(Layout layout, int cp, java.util.function.IntFunction<Map<String, Long>> expected) {
        try (Trainer t = new Trainer(OPTIONS, layout, Trainer.Hardware.local(1, 48L << 20))) {
            t.train(m -> {}, null, 0);
            for (int r = 0; r < cp; r++) {
                Map<String, Long> got = new java.util.TreeMap<>(t.lastStep(r).bytesSent());
                got.keySet().removeIf(k -> !k.startsWith("cp/"));
                assertEquals(new java.util.TreeMap<>(expected.apply(r)), got, layout + ": bytes rank " + r + " sent over the cp group in one step");
            }
        }
    }
}
