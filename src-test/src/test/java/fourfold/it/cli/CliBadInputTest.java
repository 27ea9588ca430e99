package fourfold.it.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static fourfold.it.cli.Cli.assertMentions;
import static fourfold.it.cli.Cli.error;
import static fourfold.it.cli.Cli.run;
import static fourfold.it.cli.Cli.train;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every mistake a user can make on the command line ends the same way: exit code 2 (3 for out of
 * device memory), ONE line on stderr, "fourfold: error: " + what is wrong + how to fix it, no
 * stack trace, and no checkpoint that existed before is damaged.
 */
class CliBadInputTest {
    @TempDir
    static Path dir;
    /** A good checkpoint of the `test` preset (read only: tests copy it before they damage anything). */
    static Path good;
    static Path corpus;

    @BeforeAll
    static void trainOnce() {
        corpus = Cli.Fixture.get().corpus();
        good = Cli.Fixture.get().step();
    }



    // ---- data -----------------------------------------------------------------------------------

    @Test
    void missingDataFile() {
        String m = error(train("--data", dir.resolve("no-such.txt")));
        assertMentions(m, "no-such.txt", "does not exist", "--data");
    }

    @Test
    void emptyDataFile() {
        Path empty = Cli.write(dir.resolve("empty.txt"), new byte[0]);
        assertMentions(error(train("--data", empty)), "empty.txt", "is empty");
    }

    @Test
    void dataShorterThanOneWindow() {
        Path shortFile = Cli.write(dir.resolve("short.txt"), "To be, or not".getBytes(StandardCharsets.UTF_8));
        assertMentions(error(train("--data", shortFile, "--seq", "16")), "short.txt", "fewer than one window of 17 bytes", "--seq");
        // eval scores the whole file: the same rule, the same kind of message.
        assertMentions(error(run("eval", "--checkpoint", good.toString(), "--data", shortFile.toString(), "--seq", "16")),
                "short.txt", "fewer than one window");
    }

    // ---- flags ----------------------------------------------------------------------------------

    @Test
    void unknownPreset() {
        assertMentions(error(train("--preset", "huge")), "unknown preset 'huge'", "test, tiny, small");
    }

    @Test
    void unknownFlagAndBadValuesAreOneLineUsageErrors() {
        // picocli's usage errors: no usage dump, one line that points at --help.
        assertMentions(error(run("train", "--stepz", "3")), "--stepz", "--steps", "fourfold train --help");
        assertMentions(error(run("train", "--steps", "abc")), "--steps", "abc", "fourfold train --help");
        assertMentions(error(run("eval", "--json")), "--checkpoint", "fourfold eval --help");
        assertMentions(error(run("trian")), "trian", "train");
        assertMentions(error(train("--steps", "0")), "--steps", ">= 1");
        assertMentions(error(train("--device-memory", "lots")), "--device-memory", "lots", "512m");
        assertMentions(error(train("--device-memory", "100t", "--dp", "2", "--batch", "4")), "--device-memory 100.00 TiB x 2 device(s)", "exceeds this machine");
        assertMentions(error(train("--lr-schedule", "linear")), "--lr-schedule", "cosine or constant");
        assertMentions(error(run("generate", "--checkpoint", good.toString(), "--temperature", "-1")), "--temperature");
    }

    // ---- layouts --------------------------------------------------------------------------------

    @Test
    void scheduleThatCannotRunTheseSizes() {
        assertMentions(error(run("train", "--schedule", "pipedream", "--print-schedule")), "--schedule", "gpipe, 1f1b, interleaved, zb-h1");
        assertMentions(error(run("train", "--pp", "4", "--micro-batches", "6", "--schedule", "interleaved", "--virtual-stages", "2", "--print-schedule")),
                "--micro-batches 8");
        assertMentions(error(run("train", "--pp", "4", "--micro-batches", "8", "--virtual-stages", "2", "--print-schedule")), "--virtual-stages 1");
    }

    @Test
    void batchNotDivisibleByDpTimesMicroBatches() {
        assertMentions(error(train("--batch", "6", "--dp", "2", "--micro-batches", "2")), "6", "dp x micro-batches = 2 x 2", "multiple of 4");
    }

    @Test
    void zeroStageOutOfRange() {
        assertMentions(error(train("--zero", "5", "--dp", "2")), "--zero", "0, 1, 2 or 3", "5");
    }

    @Test
    void headsNotDivisibleByTp() {
        // The `test` preset has 4 heads.
        assertMentions(error(train("--tp", "3")), "4 attention heads", "--tp 3", "divides 4");
    }

    @Test
    void sequenceParallelNeedsSeqDivisibleByTp() {
        assertMentions(error(train("--tp", "2", "--seq", "15", "--sequence-parallel")), "15", "--tp 2", "--sequence-parallel");
    }

    // ---- pipeline -------------------------------------------------------------------------------

    @Test
    void moreStagesThanLayers() {
        // The `test` preset has 4 layers.
        assertMentions(error(train("--pp", "8", "--batch", "8", "--micro-batches", "8")), "--pp x --virtual-stages = 8", "4 layers", "<= 4");
        assertMentions(error(train("--pp", "4", "--schedule", "interleaved", "--virtual-stages", "2", "--batch", "4", "--micro-batches", "4")),
                "--pp x --virtual-stages = 8", "<= 4");
    }

    @Test
    void stageLayersThatDoNotAddUp() {
        assertMentions(error(train("--pp", "2", "--stage-layers", "1,1")), "--stage-layers 1,1", "adding up to the model's 4 layers", "--stage-layers 2,2");
        assertMentions(error(train("--pp", "2", "--stage-layers", "1,1,2")), "--stage-layers 1,1,2", "2 counts");
    }

    @Test
    void microBatchesThatDoNotDivideThePerDpRankBatch() {
        assertMentions(error(train("--pp", "2", "--batch", "4", "--micro-batches", "3")), "--micro-batches dividing 4", "multiple of 3");
    }

    @Test
    void interleavedNeedsMicroBatchesAMultipleOfPp() {
        assertMentions(error(train("--pp", "2", "--schedule", "interleaved", "--virtual-stages", "2", "--batch", "3", "--micro-batches", "3")),
                "--schedule interleaved", "--micro-batches", "multiple of --pp 2");
    }

    @Test
    void virtualStagesWithoutInterleaved() {
        assertMentions(error(train("--pp", "2", "--virtual-stages", "2")), "--virtual-stages 2", "--schedule interleaved");
    }

    @Test
    void unknownSchedule() {
        assertMentions(error(train("--pp", "2", "--schedule", "pipedream")), "--schedule", "pipedream", "1f1b");
    }

    // ---- context parallel -------------------------------------------------------------------------

    @Test
    void contextParallelAndDocumentFlags() {
        assertMentions(error(train("--cp", "2", "--seq", "30")), "--seq 30", "2 x --cp = 4", "multiple of 4");
        assertMentions(error(train("--cp", "2", "--cp-shard", "per-document")), "--cp-shard per-document", "--doc-mask");
        assertMentions(error(train("--doc-mask", "--doc-delimiter", "")), "--doc-delimiter", "must not be empty", "\\n\\n");
        assertMentions(error(train("--cp", "2", "--cp-algo", "spiral")), "--cp-algo", "spiral", "allgather or ring");
        assertMentions(error(run("eval", "--checkpoint", good.toString(), "--doc-delimiter", "\\q", "--doc-mask")), "--doc-delimiter", "\\q");
    }

    // ---- checkpoints ----------------------------------------------------------------------------

    @Test
    void evalOfAMissingCheckpoint() {
        assertMentions(error(run("eval", "--checkpoint", dir.resolve("nowhere").toString())), "nowhere", "does not exist", "fourfold train --out");
        assertMentions(error(run("generate", "--checkpoint", dir.resolve("nowhere").toString())), "nowhere", "does not exist");
    }

    @Test
    void resumeOfATruncatedModelLeavesTheCheckpointAsItWas() throws IOException {
        Path ck = Cli.copyDir(good, dir.resolve("truncated"));
        try (RandomAccessFile f = new RandomAccessFile(ck.resolve("model.safetensors").toFile(), "rw")) {
            f.setLength(f.length() / 2);
        }
        Map<String, byte[]> before = Cli.snapshot(ck);
        // Resumed in place, the usual way: the failure must not touch the directory it reads.
        String m = error(run("train", "--resume", ck.toString(), "--steps", "6", "--out", ck.toString(), "--no-progress", "--threads-per-device", "1"));
        assertMentions(m, "corrupt safetensors file", "model.safetensors", "truncated");
        Cli.assertSameFiles(before, ck, "a failed --resume");
        assertMentions(error(run("eval", "--checkpoint", ck.toString())), "corrupt safetensors file", "model.safetensors");
    }

    @Test
    void garbageSafetensorsHeaders() throws IOException {
        Path ck = Cli.copyDir(good, dir.resolve("garbage"));
        byte[] bytes = Files.readAllBytes(ck.resolve("model.safetensors"));
        // A plausible length whose header is not JSON.
        byte[] junk = "<html>not a tensor file</html>".getBytes(StandardCharsets.UTF_8);
        System.arraycopy(junk, 0, bytes, 8, junk.length);
        Files.write(ck.resolve("model.safetensors"), bytes);
        assertMentions(error(run("eval", "--checkpoint", ck.toString())), "corrupt safetensors file", "model.safetensors", "JSON");
        assertMentions(error(run("generate", "--checkpoint", ck.toString())), "corrupt safetensors file");

        Path ck2 = Cli.copyDir(good, dir.resolve("garbage-optimizer"));
        Files.write(ck2.resolve("optimizer.safetensors"), "this is not a safetensors file at all".getBytes(StandardCharsets.UTF_8));
        Map<String, byte[]> before = Cli.snapshot(ck2);
        assertMentions(error(run("train", "--resume", ck2.toString(), "--steps", "6", "--out", ck2.toString(), "--no-progress")),
                "corrupt safetensors file", "optimizer.safetensors");
        Cli.assertSameFiles(before, ck2, "a failed --resume");

        Path ck3 = Cli.copyDir(good, dir.resolve("garbage-trainer"));
        Files.writeString(ck3.resolve("trainer.json"), "{\"format\": 1, \"step\": ");
        assertMentions(error(run("train", "--resume", ck3.toString(), "--steps", "6", "--out", ck3.toString(), "--no-progress")),
                "trainer.json", "cannot be resumed", "--init");
        Files.writeString(ck3.resolve("config.json"), "{\"hidden_size\": 64, ");
        assertMentions(error(run("eval", "--checkpoint", ck3.toString())), "config.json", "does not match its checksum in manifest.json");
        // Without a manifest (a checkpoint of another tool), the JSON itself is refused.
        Files.delete(ck3.resolve("manifest.json"));
        assertMentions(error(run("eval", "--checkpoint", ck3.toString())), "config.json", "not valid JSON");
    }

    @Test
    void checkpointWhoseWeightsDoNotMatchItsConfig() throws IOException {
        // config.json of `tiny` (dim 128) beside the weights of `test` (dim 64). In a fourfold
        // checkpoint the manifest's checksum already tells; in one without (another tool's), the shapes do.
        Path ck = Cli.copyDir(good, dir.resolve("mismatch"));
        String config = Files.readString(ck.resolve("config.json"))
                .replace("\"hidden_size\": 64", "\"hidden_size\": 128").replace("\"head_dim\": 16", "\"head_dim\": 32");
        Files.writeString(ck.resolve("config.json"), config);
        assertMentions(error(run("eval", "--checkpoint", ck.toString())), "config.json", "does not match its checksum");
        Files.delete(ck.resolve("manifest.json"));
        assertMentions(error(run("eval", "--checkpoint", ck.toString())), "does not match", "model.embed_tokens.weight", "(256, 64)", "(256, 128)");
        assertMentions(error(train("--init", ck, "--preset", "tiny")), "--preset", "--init");
        assertMentions(error(run("train", "--init", ck.toString(), "--steps", "1", "--no-progress")), "does not match");
    }

    @Test
    void resumeRefusesOptionsThatWouldChangeTheRun() {
        // A resumed run keeps batch, seq, lr, data...: only --steps (and where/how it runs) may change.
        Path ck = Cli.copyDir(good, dir.resolve("resume-options"));
        assertMentions(error(run("train", "--resume", ck.toString(), "--batch", "8", "--out", ck.toString())), "--batch", "--resume", "4");
        assertMentions(error(run("train", "--resume", ck.toString(), "--init", good.toString())), "--init", "--resume");
        // The same values as saved are fine (the original command line plus --resume), but the run is over.
        assertMentions(error(run("train", "--resume", ck.toString(), "--batch", "4", "--seq", "16", "--preset", "test", "--device-memory", "64m",
                        "--out", dir.resolve("resume-options-run").toString())),
                "already at step 3 of --steps 3", "raise --steps");
    }

    @Test
    void resumeAfterTheDataMoved() throws IOException {
        // A run on a copy of the corpus, which then moves (trainer.json cannot be edited: its checksum would tell).
        Path gone = Files.copy(corpus, dir.resolve("moved-away.txt"));
        Path ck = dir.resolve("data-moved");
        train("--data", gone, "--steps", "2", "--out", ck).requireSuccess();
        Files.delete(gone);
        assertMentions(error(run("train", "--resume", ck.toString(), "--steps", "4", "--out", ck.toString())),
                gone.toString(), "does not exist any more", "--data");
        // Its new location is accepted (the one flag of a run's settings that may be given anew).
        run("train", "--resume", ck.toString(), "--steps", "4", "--data", corpus.toString(), "--out", dir.resolve("data-moved-run").toString(),
                "--device-memory", "64m", "--threads-per-device", "1", "--no-progress").requireSuccess();
    }

    @Test
    void hfConfigErrorsThroughInit() throws IOException {
        String[][] cases = {
                // hidden_size, heads, kv_heads, expected words
                {"60", "8", "8", "hidden_size 60 is not divisible by num_attention_heads 8"},
                {"64", "4", "3", "num_attention_heads 4 is not divisible by num_key_value_heads 3"},
                {"36", "4", "4", "head size 36/4 = 9 is odd"},
        };
        for (String[] c : cases) {
            Path ck = dir.resolve("hf-" + c[0] + "-" + c[1] + "-" + c[2]);
            Files.createDirectories(ck);
            Files.writeString(ck.resolve("config.json"), """
                    {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 256,
                     "hidden_size": %s, "intermediate_size": 128, "num_hidden_layers": 2,
                     "num_attention_heads": %s, "num_key_value_heads": %s, "max_position_embeddings": 32}
                    """.formatted(c[0], c[1], c[2]));
            Files.copy(good.resolve("model.safetensors"), ck.resolve("model.safetensors"));
            String m = error(run("train", "--init", ck.toString(), "--steps", "1", "--no-progress"));
            assertMentions(m, c[3], ck.resolve("config.json").toString());
        }
    }

    // ---- output ---------------------------------------------------------------------------------

    @Test
    void outputUnderARegularFile() {
        Path file = Cli.write(dir.resolve("a-file"), new byte[]{1});
        assertMentions(error(train("--out", file.resolve("ck"))), "a-file", "not a writable directory", "--out");
        // Checked before training, not when the file is first written (the trace: after the last step).
        Path out = dir.resolve("never-written");
        assertMentions(error(train("--out", out, "--metrics-out", file.resolve("m.jsonl"))), "a-file", "--metrics-out");
        assertMentions(error(train("--out", out, "--trace", file.resolve("t.json"))), "a-file", "--trace");
        assertFalse(Files.exists(out), "nothing written");
    }

    @Test
    void outputWhereNothingCanBeCreated() {
        // /proc exists and, to root, passes a permission check; creating anything in it fails all the
        // same. That must be found before training, not when the checkpoint is saved at the end.
        Path proc = Path.of("/proc");
        assumeTrue(Files.isDirectory(proc), "a Linux /proc");
        assertMentions(error(train("--out", proc.resolve("ck"))), "/proc", "not a writable directory", "--out");
        assertMentions(error(train("--out", dir.resolve("never-written"), "--metrics-out", proc.resolve("m.jsonl"))),
                "/proc", "not a writable directory", "--metrics-out");
    }

    @Test
    void kernelTuningOptionsWithBadValues() {
        // Read once per JVM, at class load: each case needs a JVM of its own.
        Object[][] cases = {
                {"-Dfourfold.gemm.kc=0", "-Dfourfold.gemm.kc must be a positive integer, got '0'"},
                {"-Dfourfold.gemm.tile=8x8", "-Dfourfold.gemm.tile must be 6x2 or 4x4, got '8x8'"},
                {"-Dfourfold.vectorBits=64", "-Dfourfold.vectorBits must be 128, 256 or 512, got '64'"},
                {"-Dfourfold.comm.algorithm=tree", "-Dfourfold.comm.algorithm must be auto, ring, oneshot or twoshot, got 'tree'"},
                {"-Dfourfold.comm.twoShotBytes=lots", "-Dfourfold.comm.twoShotBytes must be a size in bytes"},
        };
        for (Object[] c : cases) {
            String m = error(Cli.runInNewJvm(List.of((String) c[0]), "--version"));
            assertMentions(m, (String) c[1], "FOURFOLD_JAVA_OPTS");
        }
    }

    @Test
    void aBlockSizeOfAWholeNumberOfTileRowsIsAcceptedOnEveryTileAndAnyOtherIsRefused() {
        // A blocks hold whole micro-tiles: 6 rows (6 x 2 tile, AVX2) or 4 (4 x 4, AVX-512). The tile
        // comes from the vector width unless forced: both widths are tried, whatever this machine's.
        // 96 is a multiple of both; 98 of neither (100 would pass with 4 rows); 0, -12 and 12x never.
        for (String[] width : new String[][] {{"256", "6x2", "6"}, {"512", "4x4", "4"}}) {
            String vectors = "-Dfourfold.vectorBits=" + width[0];
            Cli.Run ok = Cli.runInNewJvm(List.of(vectors, "-Dfourfold.gemm.mc=96"), "--version").requireSuccess();
            assertMentions(ok.out(), width[1] + " GEMM tile", "96-row A blocks");
            for (String bad : List.of("98", "0", "-12", "12x")) {
                String m = error(Cli.runInNewJvm(List.of(vectors, "-Dfourfold.gemm.mc=" + bad), "--version"));
                assertMentions(m, "-Dfourfold.gemm.mc must be a positive multiple of " + width[2], "got '" + bad + "'", "FOURFOLD_JAVA_OPTS");
            }
        }
    }

    @Test
    void outOfDeviceMemoryExits3AndKeepsTheExistingCheckpoint() {
        Path runDir = dir.resolve("survivor");
        Path ck = Cli.copyDir(good, runDir.resolve("step-000003"));
        Cli.write(runDir.resolve("latest"), "step-000003\n".getBytes(StandardCharsets.UTF_8));
        Map<String, byte[]> before = Cli.snapshot(ck);
        Cli.Run r = train("--data", corpus, "--device-memory", "1m", "--out", runDir);
        assertEquals(3, r.code(), () -> "exit code of\n" + r.describe());
        Cli.assertNoStackTrace(r);
        List<String> errors = r.errLines().stream().filter(l -> l.startsWith("fourfold: error: ")).toList();
        assertEquals(1, errors.size(), () -> "one error line:\n" + r.describe());
        assertEquals(errors.get(0), r.errLines().getLast(), "the error is the last line");
        // Only the banner may come before it: the run got as far as placing the model.
        assertTrue(r.errLines().size() <= 2 && r.errLines().getFirst().startsWith("fourfold:"), () -> "nothing but banner and error:\n" + r.describe());
        assertMentions(errors.get(0), "device 0 out of memory", "capacity 1.00 MiB", "--device-memory");
        Cli.assertSameFiles(before, ck, "a run that failed before saving");
        try (var s = Files.list(runDir)) {
            assertEquals(List.of("latest", "step-000003"), s.map(p -> p.getFileName().toString()).sorted().toList(), "no temporary directory left behind");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
