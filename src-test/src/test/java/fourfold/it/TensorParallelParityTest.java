package fourfold.it;

import fourfold.engine.model.LlamaConfig;
import fourfold.engine.train.Layout;
import fourfold.engine.train.TrainOptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Tensor parallel (with and without sequence parallel) reproduces the single-device run. */
class TensorParallelParityTest {
    // 4 heads and 4 kv heads so that tp = 4 is possible; otherwise the `test` preset.
    static final LlamaConfig MODEL = LlamaConfig.of(256, 64, 4, 4, 4, 128, 32);
    static final TrainOptions OPTIONS = Runs.options(MODEL, 20, 8, 32);
    static Runs.Result single;

    @BeforeAll
    static void reference() {
        single = Runs.train(OPTIONS, Layout.single());
    }

    @ParameterizedTest(name = "tp={0} sequence-parallel={1}")
    @CsvSource({"2,false", "4,false", "2,true", "4,true"})
    void matchesTheSingleDeviceRun(int tp, boolean sp) {
        Layout layout = new Layout(1, 1, 1, tp, 0, 1, sp);
        Runs.assertClose(single, Runs.train(OPTIONS, layout), 1e-5, layout.toString());
    }

    @Test
    void composesWithDataParallelAndZero() {
        Layout layout = new Layout(2, 1, 1, 2, 2, 1, true);
        Runs.assertClose(single, Runs.train(OPTIONS, layout), 1e-5, layout.toString());
    }

    @Test
    void isBitwiseReproducible() {
        Layout layout = new Layout(1, 1, 1, 4, 0, 1, true);
        Runs.assertBitwiseEqual(Runs.train(OPTIONS, layout), Runs.train(OPTIONS, layout), layout.toString());
    }
}
