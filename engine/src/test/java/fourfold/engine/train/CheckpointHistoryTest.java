package fourfold.engine.train;

import fourfold.engine.UserError;
import fourfold.engine.io.HfNames;
import fourfold.engine.model.LlamaConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The run directory: step directories, the latest pointer, keep-K, earlier runs, crashed saves, and loads that fall back. */
class CheckpointHistoryTest {
    private static final LlamaConfig CONFIG = LlamaConfig.preset("test");
    private static final TrainOptions OPTIONS = TrainOptions.defaults(CONFIG);

    @TempDir
    Path run;

    /** A checkpoint of the `test` model whose every value is {@code v}. */
    private static Checkpoints.State state(float v) {
        Map<String, float[]> w = new LinkedHashMap<>(), m = new LinkedHashMap<>(), s = new LinkedHashMap<>();
        Map<String, int[]> shapes = new LinkedHashMap<>();
        for (HfNames.Param p : HfNames.params(CONFIG)) {
            float[] a = new float[(int) p.numel()];
            Arrays.fill(a, v);
            w.put(p.name(), a);
            m.put(p.name(), a);
            s.put(p.name(), a);
            shapes.put(p.name(), p.shape());
        }
        return new Checkpoints.State(w, shapes, m, s);
    }

    private static void save(CheckpointHistory h, int step) {
        h.save(step, Checkpoints.contents(OPTIONS, Layout.single(), step, state(step)));
    }

    private List<String> names() throws IOException {
        try (var s = Files.list(run)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static void flipByte(Path file, long fromEnd) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(f.length() - fromEnd);
            int b = f.read();
            f.seek(f.length() - fromEnd);
            f.write(b ^ 0x01);
        }
    }

    @Test
    void eachSaveIsAStepDirectoryLatestMovesAndTheOldestBeyondKeepGo() throws IOException {
        CheckpointHistory h = new CheckpointHistory(run, 2, 0);
        save(h, 1);
        assertEquals(List.of("latest", "step-000001"), names());
        save(h, 2);
        save(h, 3);
        assertEquals(List.of("latest", "step-000002", "step-000003"), names(), "--keep 2: the two newest");
        assertEquals("step-000003\n", Files.readString(run.resolve("latest")));
        CheckpointHistory.Resolved r = CheckpointHistory.resolve(run, CheckpointCheck.Purpose.RESUME);
        assertEquals(run.resolve("step-000003"), r.dir(), "a run directory stands for its latest checkpoint");
        assertEquals(List.of(), r.notes(), "nothing to say when latest is intact");
        assertEquals(run.resolve("step-000003"), CheckpointHistory.resolve(run.resolve("latest"), CheckpointCheck.Purpose.WEIGHTS).dir(),
                "the latest file names the same checkpoint");
        assertEquals(3, Checkpoints.readStep(r.dir()));
    }

    @Test
    void aLoadFallsBackPastADamagedCheckpointAndSaysSo() throws IOException {
        CheckpointHistory h = new CheckpointHistory(run, 0, 0);
        save(h, 1);
        save(h, 2);
        flipByte(run.resolve("step-000002/model.safetensors"), 3); // inside lm_head.weight, the last tensor
        CheckpointHistory.Resolved r = CheckpointHistory.resolve(run, CheckpointCheck.Purpose.WEIGHTS);
        assertEquals(run.resolve("step-000001"), r.dir());
        assertTrue(r.notes().getFirst().contains("skipped " + run.resolve("step-000002")) && r.notes().getFirst().contains("\"lm_head.weight\" does not match its checksum"),
                r.notes().toString());
        assertTrue(r.notes().get(1).contains("using " + run.resolve("step-000001")), r.notes().toString());

        flipByte(run.resolve("step-000001/optimizer.safetensors"), 3);
        assertEquals(run.resolve("step-000001"), CheckpointHistory.resolve(run, CheckpointCheck.Purpose.WEIGHTS).dir(), "weights alone are intact");
        UserError e = assertThrows(UserError.class, () -> CheckpointHistory.resolve(run, CheckpointCheck.Purpose.RESUME));
        assertTrue(e.getMessage().startsWith("run directory " + run + " holds no intact checkpoint: step-000002: ")
                && e.getMessage().contains("optimizer.safetensors: tensor \"lm_head.weight.exp_avg_sq\""), e.getMessage());
        // A step directory named on its own is not replaced by another one.
        UserError named = assertThrows(UserError.class, () -> CheckpointHistory.resolve(run.resolve("step-000002"), CheckpointCheck.Purpose.WEIGHTS));
        assertTrue(named.getMessage().contains("step-000002/model.safetensors"), named.getMessage());
    }

    @Test
    void checkpointsOfAnEarlierRunGoOnlyOnceTheNewRunsFirstOneIsComplete() throws IOException {
        CheckpointHistory earlier = new CheckpointHistory(run, 0, 0);
        for (int s = 1; s <= 3; s++) save(earlier, s);
        CheckpointHistory resumed = new CheckpointHistory(run, 0, 1); // resumed from step 1: steps 2 and 3 are replaced
        assertEquals(List.of("latest", "step-000001", "step-000002", "step-000003"), names(), "nothing removed before a save");
        save(resumed, 2);
        assertEquals(List.of("latest", "step-000001", "step-000002"), names());
        assertEquals(2f, readFirstWeight(run.resolve("step-000002")), "step 2 is the new run's");
        assertEquals(List.of("removed step-000003 from " + run + ": saved by an earlier run, after step 1 where this run started"), resumed.notes());
    }

    private static float readFirstWeight(Path dir) {
        try (var r = fourfold.engine.io.SafetensorsReader.open(dir.resolve("model.safetensors"))) {
            return r.floats(HfNames.EMBED)[0];
        }
    }

    @Test
    void whatACrashedSaveLeftIsIgnoredByLoadsAndRemovedByTheNextSave() throws IOException {
        CheckpointHistory h = new CheckpointHistory(run, 0, 0);
        save(h, 1);
        save(new CheckpointHistory(run, 0, 1), 2);
        Files.move(run.resolve("latest"), run.resolve("latest.bak"));
        Files.writeString(run.resolve("latest"), "step-000001\n");
        // A save killed while writing (a hidden temporary directory), one killed after the rename but
        // before latest moved (a complete step directory newer than latest), and a pointer half written.
        Files.createDirectories(run.resolve(".step-000003.tmp-12345"));
        Files.writeString(run.resolve(".step-000003.tmp-12345/model.safetensors"), "half");
        Files.writeString(run.resolve(".latest.999.tmp"), "step-0");
        CheckpointHistory.Resolved r = CheckpointHistory.resolve(run, CheckpointCheck.Purpose.RESUME);
        assertEquals(run.resolve("step-000001"), r.dir(), "latest decides, not the newest directory");
        assertTrue(r.notes().getFirst().contains("ignored " + run.resolve("step-000002") + ": newer than latest"), r.notes().toString());
        assertEquals(List.of(".latest.999.tmp", ".step-000003.tmp-12345"), CheckpointHistory.partials(run).stream().map(p -> p.getFileName().toString()).sorted().toList());
        Files.delete(run.resolve("latest.bak"));
        save(new CheckpointHistory(run, 0, 1), 2);
        assertEquals(List.of("latest", "step-000001", "step-000002"), names(), "the next save removed what the crashed ones left");
    }

    @Test
    void aCheckpointDirectoryNamedLatestFromAnOlderFourfoldBecomesAStepDirectory() throws IOException {
        Checkpoints.write(run.resolve("latest"), OPTIONS, Layout.single(), 7, state(7));
        assertEquals(run.resolve("latest"), CheckpointHistory.resolve(run, CheckpointCheck.Purpose.RESUME).dir(), "it still loads as it is");
        CheckpointHistory h = new CheckpointHistory(run, 0, 7);
        save(h, 8);
        assertEquals(List.of("latest", "step-000007", "step-000008"), names());
        assertEquals(7f, readFirstWeight(run.resolve("step-000007")));
        assertFalse(h.notes().isEmpty());
    }

    @Test
    void outMustBeARunDirectoryNotACheckpoint() {
        Checkpoints.write(run.resolve("ck"), OPTIONS, Layout.single(), 1, state(1));
        UserError e = assertThrows(UserError.class, () -> CheckpointHistory.requireRunDirectory(run.resolve("ck")));
        assertTrue(e.getMessage().contains("is a checkpoint, not a run directory"), e.getMessage());
        assertEquals(run.resolve("new"), CheckpointHistory.requireRunDirectory(run.resolve("new")));
    }
}
