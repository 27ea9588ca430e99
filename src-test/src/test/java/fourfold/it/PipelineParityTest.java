package fourfold.it;

import fourfold.devices.MemoryTag;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.pp.PipelineOptions;
import fourfold.engine.train.Layout;
import fourfold.engine.train.StepMetrics;
import fourfold.engine.train.TrainOptions;
import fourfold.engine.train.Trainer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every pipeline layout (pp x schedule x micro-batches, and with dp x ZeRO, tp + sequence
 * parallel) reproduces the single-device run: losses, gradient norms and final weights within
 * 1e-5 relative (DESIGN.md, invariant 1), bitwise run after run (invariant 2). 10 steps rather
 * than 20, to keep the suite's time on 2 cores; `fourfold train` runs of 20+ steps agree as well.
 */
class PipelineParityTest {
    static final int STEPS = 10;
    static final TrainOptions OPTIONS = Runs.options(LlamaConfig.preset("test"), STEPS, 8, 32);
    /** The `test` preset with 8 layers, for 8 stages (pp 4 x 2 virtual stages). */
    static final TrainOptions DEEP = Runs.options(LlamaConfig.of(256, 64, 8, 4, 2, 128, 32), STEPS, 8, 32);
    static Runs.Result single, deepSingle;

    @BeforeAll
    static void reference() {
        single = Runs.train(OPTIONS, Layout.single());
        deepSingle = Runs.train(DEEP, Layout.single());
    }

    static Layout pipeline(int dp, int pp, int tp, int zero, int m, boolean sp, String schedule, int v) {
        return new Layout(dp, pp, 1, tp, zero, m, sp).withPipeline(new PipelineOptions(schedule, v, List.of()));
    }

    private static void check(Runs.Result reference, Runs.Result run, Layout layout) {
        Runs.assertClose(reference, run, 1e-5, layout.toString());
        Runs.assertGradNormsClose(reference, run, 1e-5, layout.toString());
    }

    @ParameterizedTest(name = "pp={0} {1} m={2}")
    @CsvSource({
            "2,gpipe,1", "2,gpipe,2", "2,gpipe,4",
            "2,1f1b,1", "2,1f1b,2", "2,1f1b,4",
            "2,zb-h1,1", "2,zb-h1,2", "2,zb-h1,4",
            "4,gpipe,1", "4,gpipe,4", "4,gpipe,8",
            "4,1f1b,1", "4,1f1b,4", "4,1f1b,8",
            "4,zb-h1,1", "4,zb-h1,4", "4,zb-h1,8"})
    void matchesTheSingleDeviceRun(int pp, String schedule, int m) {
        Layout layout = pipeline(1, pp, 1, 0, m, false, schedule, 1);
        check(single, Runs.train(OPTIONS, layout), layout);
    }

    @ParameterizedTest(name = "interleaved pp={0} v={1} m={2}")
    @CsvSource({"2,2,2", "2,2,4", "4,2,4", "4,2,8"})
    void interleavedMatchesTheSingleDeviceRun(int pp, int v, int m) {
        Layout layout = pipeline(1, pp, 1, 0, m, false, "interleaved", v);
        check(deepSingle, Runs.train(DEEP, layout), layout);
    }

    @ParameterizedTest(name = "dp={0} pp={1} tp={2} zero={3} m={4} sp={5} {6}")
    @CsvSource({
            "2,2,1,1,2,false,1f1b", "2,2,1,3,2,false,zb-h1", "2,2,1,3,4,false,gpipe",
            "1,2,2,0,2,true,1f1b", "1,2,2,0,4,true,zb-h1"})
    void withDataAndTensorParallelMatchesTheSingleDeviceRun(int dp, int pp, int tp, int zero, int m, boolean sp, String schedule) {
        Layout layout = pipeline(dp, pp, tp, zero, m, sp, schedule, 1);
        check(single, Runs.train(OPTIONS, layout), layout);
    }

    @Test
    void isBitwiseReproducible() {
        Layout zb = pipeline(1, 2, 1, 0, 4, false, "zb-h1", 1);
        Runs.assertBitwiseEqual(Runs.train(OPTIONS, zb), Runs.train(OPTIONS, zb), zb.toString());
        Layout interleaved = pipeline(2, 2, 1, 3, 2, false, "interleaved", 2);
        Runs.assertBitwiseEqual(Runs.train(OPTIONS, interleaved), Runs.train(OPTIONS, interleaved), interleaved.toString());
    }

    /** Peak activation bytes on the device of stage 0 (global rank 0) in one step. */
    private static long stage0ActivationPeak(int pp, int m, String schedule) {
        TrainOptions one = Runs.options(LlamaConfig.preset("test"), 1, m, 32); // one sequence per micro-batch
        Layout layout = pipeline(1, pp, 1, 0, m, false, schedule, 1);
        try (Trainer t = new Trainer(one, layout, Trainer.Hardware.local(1, 256L << 20))) {
            t.train((StepMetrics s) -> {}, null, 0);
            return t.lastStep(0).peak().get(MemoryTag.ACTIVATIONS);
        }
    }

    /** 1F1B keeps at most p micro-batches in flight on stage 0, GPipe all m: the arena's activation peak says so. */
    @Test
    void stageZeroHoldsPMicroBatchesUnder1f1bAndMUnderGpipe() {
        int p = 4, m = 8;
        long oneInFlight = stage0ActivationPeak(p, 1, "1f1b");
        long oneFOneB = stage0ActivationPeak(p, m, "1f1b");
        long gpipe = stage0ActivationPeak(p, m, "gpipe");
        assertTrue(oneFOneB <= p * oneInFlight, "1f1b: stage 0 peak " + oneFOneB + " B > p = " + p + " micro-batches of " + oneInFlight + " B");
        assertTrue(gpipe <= m * oneInFlight, "gpipe: stage 0 peak " + gpipe + " B > m = " + m + " micro-batches of " + oneInFlight + " B");
        assertTrue(gpipe > p * oneInFlight, "gpipe holds more than p micro-batches on stage 0: " + gpipe + " B vs " + p + " x " + oneInFlight + " B");
    }
}
