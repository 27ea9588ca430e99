package fourfold.engine.io;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import fourfold.engine.data.Batch;
import fourfold.engine.data.BatchSampler;
import fourfold.engine.data.TextDataset;
import fourfold.engine.model.LlamaConfig;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The PyTorch golden data (scripts/golden/make_golden.py) read with fourfold's own readers: its
 * files pass the strict safetensors checks, carry the HF names and shapes of the {@code test}
 * preset, and its batches are exactly what {@link BatchSampler} draws. The model numbers
 * themselves are checked by the golden test in src-test.
 */
class GoldenFilesTest {
    private static final Path GOLDEN = Path.of(System.getProperty("basedir", "."))
            .resolve("../src-test/src/test/resources/golden/test").normalize();
    private static final LlamaConfig TEST = LlamaConfig.preset("test");

    @Test
    void configAndTensorFilesDescribeTheTestPreset() {
        assertEquals(TEST, LlamaConfig.readHfJson(GOLDEN), "config.json is the test preset");
        for (String f : new String[] {"model.safetensors", "grads.safetensors", "final.safetensors"}) {
            try (SafetensorsReader r = SafetensorsReader.open(GOLDEN.resolve(f))) {
                HfNames.requireMatches(r, TEST);
                assertEquals("pt", r.metadata().get("format"), f + " has the metadata transformers wants");
            }
        }
        try (SafetensorsReader r = SafetensorsReader.open(GOLDEN.resolve("logits.safetensors"))) {
            r.require("logits", 2 * 32, 256);
        }
    }

    @Test
    void goldenBatchesAreTheSequentialSamplersBatches() {
        BatchSampler s = BatchSampler.sequential(TextDataset.embedded().train(), 2, 32);
        try (SafetensorsReader r = SafetensorsReader.open(GOLDEN.resolve("batch.safetensors"))) {
            Batch first = new Batch(r.ints("inputs"), r.ints("targets"), 2, 32);
            assertEquals(s.batch(0), first, "the batch of logits and grads is step 0's");
            int[] inputs = r.ints("steps.inputs"), targets = r.ints("steps.targets"), starts = r.ints("steps.window_starts");
            r.require("steps.inputs", 10, 2, 32);
            for (int step = 0; step < 10; step++) {
                Batch b = new Batch(Arrays.copyOfRange(inputs, step * 64, step * 64 + 64),
                        Arrays.copyOfRange(targets, step * 64, step * 64 + 64), 2, 32);
                assertEquals(s.batch(step), b, "step " + step);
                assertArrayEquals(s.windowStarts(step), Arrays.copyOfRange(starts, step * 2, step * 2 + 2), "window starts of step " + step);
            }
        }
    }

    @Test
    void expectedJsonHasTheLossAndTenStepLosses() throws IOException {
        JsonObject e = JsonParser.parseString(Files.readString(GOLDEN.resolve("expected.json"))).getAsJsonObject();
        assertEquals(10, e.getAsJsonArray("losses").size());
        assertEquals(e.get("loss").getAsDouble(), e.getAsJsonArray("losses").get(0).getAsDouble(), "losses[0] is the step-0 loss");
        double loss = e.get("loss").getAsDouble();
        assertTrue(loss > 4 && loss < 8, "an untrained byte model's loss is near ln(256) = 5.5, got " + loss);
    }
}
