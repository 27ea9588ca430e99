package fourfold.it.cli;

import com.google.gson.JsonObject;
import fourfold.engine.io.SafetensorsReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static fourfold.it.cli.Cli.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `fourfold train --pp`: the shared fixture's run (3 steps, pp 1) trained again on 2 pipeline
 * stages gives its checkpoint; pp_bubble is in the metrics; a pipeline checkpoint resumes under
 * another pp layout; --print-schedule prints the lists and trains nothing.
 */
class PipelineCliTest {
    @TempDir
    static Path dir;

    private static Cli.Run trainPp(Path out, Path metrics, String... layout) {
        Cli.Fixture f = Cli.Fixture.get();
        List<String> args = new ArrayList<>(List.of("train", "--preset", "test", "--steps", "3", "--batch", "4", "--seq", "16",
                "--threads-per-device", "1", "--device-memory", "64m", "--data", f.corpus().toString(), "--eval-every", "2",
                "--eval-windows", "0", "--out", out.toString(), "--metrics-out", metrics.toString(), "--no-progress"));
        args.addAll(List.of(layout));
        return run(args.toArray(String[]::new)).requireSuccess();
    }

    private static double relDiff(float[] a, float[] b) {
        double d = 0, n = 0;
        for (int i = 0; i < a.length; i++) {
            d += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
            n += (double) a[i] * a[i];
        }
        return Math.sqrt(d / n);
    }

    @Test
    void pipelineRunWritesTheSameCheckpointAndReportsItsBubble() throws IOException {
        Cli.Fixture f = Cli.Fixture.get();
        Path ck = dir.resolve("pp2"), metrics = dir.resolve("pp2.jsonl");
        Cli.Run r = trainPp(ck, metrics, "--pp", "2", "--schedule", "zb-h1");
        List<JsonObject> lines = CliTest.jsonLines(metrics);
        assertEquals(3, lines.size(), "one metrics line per step");
        List<JsonObject> single = CliTest.jsonLines(f.metrics());
        for (int s = 0; s < 3; s++) {
            double bubble = lines.get(s).get("pp_bubble").getAsDouble();
            assertTrue(bubble > 0 && bubble < 1, "pp_bubble of step " + (s + 1) + " is a fraction: " + bubble);
            double a = single.get(s).get("loss").getAsDouble(), b = lines.get(s).get("loss").getAsDouble();
            assertEquals(a, b, 1e-5 * a, "loss of step " + (s + 1) + " on pp 2 vs pp 1");
        }
        assertTrue(r.err().contains("pipeline bubble"), "the end-of-run summary names the bubble:\n" + r.err());
        try (SafetensorsReader a = SafetensorsReader.open(f.step().resolve("model.safetensors"));
             SafetensorsReader b = SafetensorsReader.open(Cli.latest(ck).resolve("model.safetensors"))) {
            assertEquals(a.names(), b.names(), "the pp checkpoint holds every tensor, in the same order");
            for (String name : a.names()) {
                double d = relDiff(a.floats(name, a.info(name).shape()), b.floats(name, b.info(name).shape()));
                assertTrue(d <= 1e-5, name + " of the pp 2 checkpoint differs from pp 1 by " + d + " relative");
            }
        }
        // Resumed under other pipeline layouts, the fourth step gives the same loss.
        double[] step4 = new double[2];
        String[][] layouts = {{"--pp", "4", "--micro-batches", "2", "--schedule", "gpipe"}, {"--pp", "1"}};
        for (int k = 0; k < 2; k++) {
            Path m = dir.resolve("resume" + k + ".jsonl");
            List<String> args = new ArrayList<>(List.of("train", "--resume", ck.toString(), "--steps", "4", "--data", f.corpus().toString(),
                    "--threads-per-device", "1", "--device-memory", "64m", "--out", dir.resolve("resumed" + k).toString(),
                    "--metrics-out", m.toString(), "--no-progress"));
            args.addAll(List.of(layouts[k]));
            run(args.toArray(String[]::new)).requireSuccess();
            step4[k] = CliTest.jsonLines(m).getFirst().get("loss").getAsDouble();
        }
        assertEquals(step4[1], step4[0], 1e-5 * step4[1], "step 4 resumed from a pp 2 checkpoint on pp 4 vs on pp 1");
    }

    @Test
    void printScheduleShowsEveryRanksListAndExits() {
        Cli.Run r = run("train", "--preset", "test", "--batch", "4", "--pp", "2", "--micro-batches", "4", "--schedule", "1f1b", "--print-schedule")
                .requireSuccess();
        assertTrue(r.out().contains("schedule 1f1b: pp 2, micro-batches 4"), "header:\n" + r.out());
        assertTrue(r.out().contains("rank 0") && r.out().contains("rank 1"), "one row per rank:\n" + r.out());
        assertTrue(r.out().contains("BW3"), "the last backward:\n" + r.out());
        assertTrue(r.out().contains("layers per stage: 2,2 (2 stages, 4 decoder layers)"), "the test preset's 4 layers on 2 stages:\n" + r.out());
        assertTrue(!r.err().contains("training"), "nothing is trained:\n" + r.err());
    }
}
