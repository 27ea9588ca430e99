package fourfold.it.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static fourfold.it.cli.Cli.assertMentions;
import static fourfold.it.cli.Cli.error;
import static fourfold.it.cli.Cli.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Damage of every kind, each refused on load with one line that names the file (and the tensor),
 * and told by `fourfold inspect` (exit 2); an intact checkpoint inspects with exit 0; a
 * checkpoint without checksums (another tool's) still loads, with a note.
 */
class CheckpointIntegrityTest {
    @TempDir
    static Path dir;
    static Path good;
    static Path corpus;

    @BeforeAll
    static void fixture() {
        good = Cli.Fixture.get().step();
        corpus = Cli.Fixture.get().corpus();
    }



    /** `fourfold inspect` of a damaged checkpoint: the report on stdout, exit 2, one error line naming the problem. */
    private static Cli.Run inspectDamaged(Path ck, String... parts) {
        Cli.Run r = run("inspect", ck.toString());
        assertEquals(2, r.code(), r.describe());
        assertTrue(r.out().contains("checkpoint " + ck + ": DAMAGED"), "the report says DAMAGED:\n" + r.describe());
        assertEquals(1, r.errLines().size(), r.describe());
        assertMentions(r.errLines().getFirst(), parts);
        Cli.assertNoStackTrace(r);
        return r;
    }

    private static String[] resume(Path ck) {
        return new String[]{"train", "--resume", ck.toString(), "--steps", "5", "--out", dir.resolve("never").toString(), "--no-progress"};
    }

    /** Flips one bit of the byte {@code fromEnd} bytes before the end of {@code file}. */
    private static void flip(Path file, long fromEnd) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            long at = f.length() - fromEnd;
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x04);
        }
    }

    @Test
    void anIntactCheckpointInspectsAsIntact() {
        Cli.Run text = run("inspect", good.toString()).requireSuccess();
        assertMentions(text.out(), "checkpoint " + good + ": intact, every checksum holds", "step 3, saved from dp=1 pp=1 cp=1 tp=1",
                "config: vocab 256, dim 64, 4 layers, 4 heads (2 kv heads), ffn 128, max_seq 32", "parameters: 180,800",
                "model.layers.3.mlp.up_proj.weight", "F32  (128, 64)", "lm_head.weight.exp_avg_sq");
        assertEquals("", text.err());

        JsonObject j = JsonParser.parseString(run("inspect", good.toString(), "--json").requireSuccess().out()).getAsJsonObject();
        assertTrue(j.get("intact").getAsBoolean());
        assertEquals(3, j.get("step").getAsInt());
        assertEquals(180_800, j.get("parameters").getAsLong());
        assertEquals(64, j.getAsJsonObject("config").get("hidden_size").getAsInt());
        JsonArray tensors = j.getAsJsonArray("tensors");
        assertEquals(39 + 78, tensors.size(), "39 weights and their two AdamW moments");
        for (var t : tensors) {
            JsonObject o = t.getAsJsonObject();
            assertEquals("F32", o.get("dtype").getAsString(), o.toString());
            assertTrue(o.get("ok").getAsBoolean() && o.get("checksum").getAsString().matches("[0-9a-f]{8}"), o.toString());
        }

        Cli.Run runDir = run("inspect", Cli.Fixture.get().checkpoint().toString()).requireSuccess();
        assertMentions(runDir.out(), "latest -> step-000003", "step-000003    intact  (latest)", "checkpoint " + good + ": intact");
        assertEquals(runDir.out(), run("inspect", Cli.Fixture.get().checkpoint().resolve("latest").toString()).requireSuccess().out(),
                "the latest file stands for its run directory");
        assertMentions(error(run("inspect", dir.resolve("nowhere").toString())), "nowhere", "does not exist");
    }

    @Test
    void aFlippedByteInTheModelNamesTheTensor() throws IOException {
        Path ck = Cli.copyDir(good, dir.resolve("flip-model"));
        flip(ck.resolve("model.safetensors"), 100); // inside lm_head.weight, the last tensor
        String[] expected = {ck.resolve("model.safetensors").toString(), "tensor \"lm_head.weight\" does not match its checksum"};
        assertMentions(error(run("eval", "--checkpoint", ck.toString())), expected);
        assertMentions(error(run("generate", "--checkpoint", ck.toString())), expected);
        assertMentions(error(run("train", "--init", ck.toString(), "--steps", "1", "--no-progress", "--out", dir.resolve("never").toString())), expected);
        assertMentions(error(run(resume(ck))), expected);
        Cli.Run r = inspectDamaged(ck, expected);
        assertTrue(r.out().lines().anyMatch(l -> l.contains("lm_head.weight ") && l.endsWith("CHECKSUM MISMATCH")), r.out());
    }

    @Test
    void aFlippedByteInTheOptimizerStopsAResumeButNotAnEval() throws IOException {
        Path ck = Cli.copyDir(good, dir.resolve("flip-optimizer"));
        flip(ck.resolve("optimizer.safetensors"), 100);
        String[] expected = {ck.resolve("optimizer.safetensors").toString(), "tensor \"lm_head.weight.exp_avg_sq\" does not match its checksum"};
        assertMentions(error(run(resume(ck))), expected);
        run("eval", "--checkpoint", ck.toString(), "--data", corpus.toString(), "--seq", "16", "--threads", "1").requireSuccess();
        inspectDamaged(ck, expected);
    }

    @Test
    void aFlippedByteInConfigOrTrainerJson() throws IOException {
        Path ck = Cli.copyDir(good, dir.resolve("flip-config"));
        byte[] config = Files.readAllBytes(ck.resolve("config.json"));
        String text = new String(config, StandardCharsets.UTF_8);
        config[text.indexOf("\"llama\"") + 2] ^= 0x02; // "llama" -> "lnama": still valid JSON
        Files.write(ck.resolve("config.json"), config);
        String[] expected = {ck.resolve("config.json").toString(), "does not match its checksum in manifest.json"};
        assertMentions(error(run("eval", "--checkpoint", ck.toString())), expected);
        inspectDamaged(ck, expected);

        Path ck2 = Cli.copyDir(good, dir.resolve("flip-trainer"));
        String trainer = Files.readString(ck2.resolve("trainer.json"));
        Files.writeString(ck2.resolve("trainer.json"), trainer.replace("\"step\": 3", "\"step\": 2"));
        String[] expected2 = {ck2.resolve("trainer.json").toString(), "does not match its checksum in manifest.json", "cannot be resumed", "--init"};
        assertMentions(error(run(resume(ck2))), expected2);
        inspectDamaged(ck2, expected2);
    }

    @Test
    void aTruncatedFileAndAHeaderPointingOutsideTheFile() throws IOException {
        Path ck = Cli.copyDir(good, dir.resolve("truncated-optimizer"));
        try (RandomAccessFile f = new RandomAccessFile(ck.resolve("optimizer.safetensors").toFile(), "rw")) {
            f.setLength(f.length() - 1000);
        }
        String[] expected = {"corrupt safetensors file " + ck.resolve("optimizer.safetensors"), "truncated"};
        assertMentions(error(run(resume(ck))), expected);
        inspectDamaged(ck, expected);

        Path ck2 = Cli.copyDir(good, dir.resolve("header-outside"));
        try (RandomAccessFile f = new RandomAccessFile(ck2.resolve("model.safetensors").toFile(), "rw")) {
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(f.length() + 100).array());
        }
        String[] expected2 = {"corrupt safetensors file " + ck2.resolve("model.safetensors"), "runs past the end of the file"};
        assertMentions(error(run("eval", "--checkpoint", ck2.toString())), expected2);
        inspectDamaged(ck2, expected2);
    }

    @Test
    void aConfigThatDisagreesWithTheTensors() throws IOException {
        // Another tool's checkpoint (no manifest) whose config says dim 128 for weights of dim 64.
        Path ck = Cli.copyDir(good, dir.resolve("disagree"));
        Files.delete(ck.resolve("manifest.json"));
        Files.writeString(ck.resolve("config.json"), Files.readString(ck.resolve("config.json"))
                .replace("\"hidden_size\": 64", "\"hidden_size\": 128").replace("\"head_dim\": 16", "\"head_dim\": 32"));
        String[] expected = {"does not match the model config", "model.embed_tokens.weight", "(256, 64)", "(256, 128)"};
        assertMentions(error(run("eval", "--checkpoint", ck.toString())), expected);
        inspectDamaged(ck, expected);
    }

    @Test
    void aMissingManifest() throws IOException {
        Path ck = Cli.copyDir(good, dir.resolve("no-manifest"));
        Files.delete(ck.resolve("manifest.json"));
        String[] expected = {"checkpoint " + ck + " has no manifest.json", "incomplete"};
        assertMentions(error(run("eval", "--checkpoint", ck.toString())), expected);
        assertMentions(error(run(resume(ck))), expected);
        inspectDamaged(ck, expected);
    }

    @Test
    void aCheckpointWithoutChecksumsLoadsWithANote() throws IOException {
        // As another tool writes it: no manifest, no checksums in the safetensors metadata.
        Path ck = Cli.copyDir(good, dir.resolve("other-tool"));
        Files.delete(ck.resolve("manifest.json"));
        for (String f : new String[]{"model.safetensors", "optimizer.safetensors"}) stripChecksums(ck.resolve(f));
        String note = "fourfold: note: checkpoint " + ck + " has no checksums (written by another tool or an older fourfold): loaded without verification";
        Cli.Run eval = run("eval", "--checkpoint", ck.toString(), "--data", corpus.toString(), "--seq", "16", "--json", "--threads", "1").requireSuccess();
        assertEquals(note + "\n", eval.err(), "one note line");
        Cli.Run inspect = run("inspect", ck.toString()).requireSuccess();
        assertMentions(inspect.out(), "intact", "no checksum", "note: checkpoint " + ck + " has no checksums");
    }

    /** Rewrites the header without the crc32c.* metadata, padded with spaces to its old length. */
    private static void stripChecksums(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        int n = (int) ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonObject header = JsonParser.parseString(new String(bytes, 8, n, StandardCharsets.UTF_8)).getAsJsonObject();
        JsonObject meta = header.getAsJsonObject("__metadata__");
        meta.keySet().removeIf(k -> k.startsWith("crc32c."));
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        assertTrue(json.length <= n);
        for (int i = 0; i < n; i++) bytes[8 + i] = i < json.length ? json[i] : (byte) ' ';
        Files.write(file, bytes);
    }
}
