package fourfold.it.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static fourfold.it.cli.Cli.read;
import static fourfold.it.cli.Cli.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A training run SIGKILLed while it writes its second checkpoint (step 4 of --save-every 2), at
 * several points of the write, in a JVM of its own. The test does not guess a time: the run is
 * started with -Dfourfold.test.haltAt=POINT, stops there and says so on stderr, and is killed
 * then. Afterwards the first checkpoint (step 2) loads, what the killed save left is ignored, and
 * the resumed run's next save removes it and ends byte-identical to a run that was never killed.
 */
class CheckpointCrashTest {
    @TempDir
    static Path dir;
    static Path corpus;
    static Path straight;

    private static Object[] run4(Path out) {
        return new Object[]{"--data", corpus, "--steps", "4", "--save-every", "2", "--lr-schedule", "constant", "--lr", "3e-3",
                "--eval-every", "0", "--out", out};
    }

    static final List<String> POINTS = List.of("model.safetensors:3@2", "optimizer.safetensors:40@2", "directory-written@2", "before-pointer@2");

    private static Path runDir(String point) {
        return dir.resolve("crash-" + point.replaceAll("[^a-z0-9]", "-"));
    }

    /** Starts the four runs at once (each its own JVM, C1 only: they are short), and kills each where it halts. */
    @BeforeAll
    static void crashRuns() throws Exception {
        corpus = Cli.Fixture.get().corpus();
        List<Process> runs = new ArrayList<>();
        try {
            for (String point : POINTS) {
                runs.add(Cli.startInNewJvm(List.of("-Dfourfold.test.haltAt=" + point, "-XX:TieredStopAtLevel=1"), Cli.trainArgs(run4(runDir(point)))));
            }
            straight = dir.resolve("straight");
            Cli.train(run4(straight)).requireSuccess();
            for (int i = 0; i < POINTS.size(); i++) killAt(runs.get(i), POINTS.get(i));
        } finally {
            for (Process p : runs) p.destroyForcibly();
        }
    }

    /** Waits for the run's own word that it halted at {@code point}, then SIGKILLs it (no shutdown hooks, no finally blocks). */
    private static void killAt(Process p, String point) throws Exception {
        List<String> seen = new ArrayList<>();
        BufferedReader err = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8));
        for (String line; (line = err.readLine()) != null; ) {
            seen.add(line);
            if (line.equals("fourfold-test: halted at " + point)) break;
        }
        if (!seen.contains("fourfold-test: halted at " + point)) fail("the run ended (exit " + p.waitFor() + ") before " + point + ":\n" + String.join("\n", seen));
        p.destroyForcibly();
        p.waitFor();
    }

    @Test
    void killedWhileWritingModelTensors() throws Exception {
        recover("model.safetensors:3@2", true);
    }

    @Test
    void killedWhileWritingOptimizerTensors() throws Exception {
        recover("optimizer.safetensors:40@2", true);
    }

    @Test
    void killedWithEveryFileWrittenButTheDirectoryNotRenamed() throws Exception {
        recover("directory-written@2", true);
    }

    @Test
    void killedAfterTheRenameBeforeLatestMoved() throws Exception {
        recover("before-pointer@2", false);
    }

    private void recover(String point, boolean leavesTemporaryDirectory) throws Exception {
        Path runDir = runDir(point);

        // What the killed save left.
        assertEquals("step-000002\n", Files.readString(runDir.resolve("latest")), point + ": latest still names the first checkpoint");
        List<String> names = list(runDir);
        if (leavesTemporaryDirectory) {
            assertTrue(names.stream().anyMatch(n -> n.startsWith(".step-000004.tmp-")), point + ": a temporary directory is left: " + names);
            assertTrue(!names.contains("step-000004"), point + ": no step-000004 yet: " + names);
        } else {
            assertTrue(names.contains("step-000004"), point + ": step-000004 is in place, latest not moved: " + names);
        }

        // The previous checkpoint loads, the partial one is ignored; inspect says what is there.
        run("eval", "--checkpoint", runDir.toString(), "--data", corpus.toString(), "--seq", "16", "--json", "--threads", "1").requireSuccess();
        Cli.Run inspect = run("inspect", runDir.toString()).requireSuccess();
        assertTrue(inspect.out().contains("latest -> step-000002"), inspect.describe());
        if (leavesTemporaryDirectory) assertTrue(inspect.out().contains("partial save of a run that stopped; ignored, removed at the next save"), inspect.describe());

        // Resumed from the run directory: it takes step 2, says so, and its save cleans up.
        Cli.Run resumed = run("train", "--resume", runDir.toString(), "--out", runDir.toString(), "--threads-per-device", "1",
                "--device-memory", "64m", "--no-progress").requireSuccess();
        assertTrue(resumed.errLines().stream().anyMatch(l -> l.startsWith("fourfold: training run from " + runDir.resolve("step-000002"))), resumed.describe());
        assertEquals(List.of("latest", "step-000002", "step-000004"), list(runDir), point + ": after the next save nothing partial is left");
        assertEquals("step-000004\n", Files.readString(runDir.resolve("latest")));
        for (String f : List.of("model.safetensors", "optimizer.safetensors")) {
            assertArrayEquals(read(straight.resolve("step-000004").resolve(f)), read(runDir.resolve("step-000004").resolve(f)),
                    point + ": " + f + " after kill + resume vs the run that was never killed");
        }
    }

    private static List<String> list(Path d) throws IOException {
        try (var s = Files.list(d)) {
            return s.map(x -> x.getFileName().toString()).sorted().toList();
        }
    }
}
