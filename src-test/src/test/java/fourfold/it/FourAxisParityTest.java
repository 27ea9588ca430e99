package fourfold.it;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import fourfold.engine.cp.Algorithm;
import fourfold.engine.cp.Sharding;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.pp.PipelineOptions;
import fourfold.engine.train.CheckpointHistory;
import fourfold.engine.train.Layout;
import fourfold.engine.train.StepMetrics;
import fourfold.engine.train.TrainOptions;
import fourfold.engine.train.Trainer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * All four axes at once (issue 18): every 8-device layout dp x pp x cp x tp (each axis in
 * {1, 2, 4, 8}) that the `test` preset allows (tp <= 2: 2 kv heads; pp <= 4: 4 layers), and
 * dp2·pp2·cp2·tp2 on 16 devices, across ZeRO 1 and 3, sequence parallel (with every tp 2), both
 * CP algorithms, 1F1B and interleaved: 10 steps give the single-device losses and final weights
 * within 1e-5 relative. A 16-device run repeated is bitwise the same, checkpoint bytes included,
 * and its Chrome trace names each device by its mesh coordinates.
 */
class FourAxisParityTest {
    static final int STEPS = 10;
    static final TrainOptions OPTIONS = Runs.options(LlamaConfig.preset("test"), STEPS, 8, 32);
    static Runs.Result single;

    @TempDir
    static Path dir;

    @BeforeAll
    static void reference() {
        single = Runs.train(OPTIONS, Layout.single());
    }

    static Layout layout(int dp, int pp, int cp, int tp, int zero, int m, Algorithm algorithm, String schedule, int v) {
        return new Layout(dp, pp, 1, tp, zero, m, tp > 1)
                .withPipeline(new PipelineOptions(schedule, v, List.of()))
                .withCp(cp, algorithm, Sharding.HEADTAIL);
    }

    @ParameterizedTest(name = "dp{0} pp{1} cp{2} tp{3} zero{4} m{5} {6} {7} v{8}")
    @CsvSource({
            // tp 1
            "8,1,1,1,1,1,ALLGATHER,1f1b,1",
            "4,2,1,1,3,2,ALLGATHER,1f1b,1",
            "4,1,2,1,1,1,RING,1f1b,1",
            "2,4,1,1,1,4,ALLGATHER,1f1b,1",
            "2,2,2,1,3,2,ALLGATHER,interleaved,2",
            "2,1,4,1,3,1,RING,1f1b,1",
            "1,4,2,1,1,4,RING,1f1b,1",
            "1,2,4,1,3,4,RING,interleaved,2",
            "1,1,8,1,1,1,ALLGATHER,1f1b,1",
            // tp 2, sequence parallel
            "4,1,1,2,3,1,ALLGATHER,1f1b,1",
            "2,2,1,2,1,2,ALLGATHER,1f1b,1",
            "2,1,2,2,3,1,RING,1f1b,1",
            "1,4,1,2,1,4,ALLGATHER,1f1b,1",
            "1,2,2,2,3,2,ALLGATHER,interleaved,2",
            "1,1,4,2,1,1,RING,1f1b,1",
            // 16 devices
            "2,2,2,2,3,2,ALLGATHER,interleaved,2",
            "2,2,2,2,1,2,RING,1f1b,1"})
    void matchesTheSingleDeviceRun(int dp, int pp, int cp, int tp, int zero, int m, Algorithm algorithm, String schedule, int v) {
        Layout layout = layout(dp, pp, cp, tp, zero, m, algorithm, schedule, v);
        assertEquals(dp * pp * cp * tp, layout.devices(), "devices of " + layout);
        Runs.Result run = Runs.train(OPTIONS, layout);
        Runs.assertClose(single, run, 1e-5, layout.toString());
        Runs.assertGradNormsClose(single, run, 1e-5, layout.toString());
    }

    @Test
    void sixteenDevicesTwiceGiveIdenticalLossesAndCheckpointBytesAndANamedTrace() throws IOException {
        Layout layout = layout(2, 2, 2, 2, 1, 2, Algorithm.RING, "1f1b", 1);
        List<List<Double>> losses = new ArrayList<>();
        for (int run = 0; run < 2; run++) losses.add(train(layout, dir.resolve("run" + run), dir.resolve("trace" + run + ".json")));
        assertEquals(losses.get(0), losses.get(1), layout + ": losses of two runs must be bitwise identical");
        Path a = CheckpointHistory.latest(dir.resolve("run0")), b = CheckpointHistory.latest(dir.resolve("run1"));
        for (String file : List.of("model.safetensors", "optimizer.safetensors")) {
            assertArrayEquals(Files.readAllBytes(a.resolve(file)), Files.readAllBytes(b.resolve(file)), layout + ": " + file + " of two runs");
        }

        // One process per device, named by its coordinates on the mesh [dp, pp, cp, tp] (tp innermost).
        Set<String> names = new HashSet<>();
        for (JsonElement e : JsonParser.parseString(Files.readString(dir.resolve("trace0.json"))).getAsJsonObject().getAsJsonArray("traceEvents")) {
            JsonObject o = e.getAsJsonObject();
            if (o.get("ph").getAsString().equals("M") && o.get("name").getAsString().equals("process_name")) {
                names.add(o.get("pid").getAsInt() + ": " + o.getAsJsonObject("args").get("name").getAsString());
            }
        }
        assertEquals(16, names.size(), "a process per device: " + names);
        for (int g = 0; g < 16; g++) {
            String expected = g + ": GPU " + g + " (dp=" + (g >> 3) + ", pp=" + ((g >> 2) & 1) + ", cp=" + ((g >> 1) & 1) + ", tp=" + (g & 1) + ")";
            assertTrue(names.contains(expected), "the trace names device " + g + " as '" + expected + "': " + names);
        }
    }

    private static List<Double> train(Layout layout, Path out, Path trace) {
        List<Double> losses = new ArrayList<>();
        try (Trainer t = new Trainer(OPTIONS, layout, new Trainer.Hardware(1, 256L << 20, "cpu-local", trace))) {
            t.train((StepMetrics m) -> losses.add(m.loss()), out, 0);
        }
        return losses;
    }
}
