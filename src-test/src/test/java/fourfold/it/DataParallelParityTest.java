package fourfold.it;

import fourfold.engine.model.LlamaConfig;
import fourfold.engine.train.Layout;
import fourfold.engine.train.TrainOptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every dp x ZeRO layout reproduces the single-device run (DESIGN.md, invariant 1) and itself (invariant 2). */
class DataParallelParityTest {
    static final TrainOptions OPTIONS = Runs.options(LlamaConfig.preset("test"), 20, 8, 32);
    static Runs.Result single;

    @BeforeAll
    static void reference() {
        single = Runs.train(OPTIONS, Layout.single());
    }

    @ParameterizedTest(name = "dp={0} zero={1} micro-batches={2}")
    @CsvSource({
            "2,0,1", "2,1,1", "2,2,1", "2,3,1",
            "4,0,1", "4,1,1", "4,2,1", "4,3,1",
            "1,0,2", "2,0,2", "2,2,2", "2,3,2", "4,1,2"})
    void matchesTheSingleDeviceRun(int dp, int zero, int micro) {
        Layout layout = new Layout(dp, 1, 1, 1, zero, micro, false);
        Runs.Result run = Runs.train(OPTIONS, layout);
        Runs.assertClose(single, run, 1e-5, layout.toString());
    }

    @ParameterizedTest(name = "dp={0} zero={1}")
    @CsvSource({"2,0", "4,3"})
    void isBitwiseReproducible(int dp, int zero) {
        Layout layout = new Layout(dp, 1, 1, 1, zero, 1, false);
        Runs.assertBitwiseEqual(Runs.train(OPTIONS, layout), Runs.train(OPTIONS, layout), layout.toString());
    }
}
