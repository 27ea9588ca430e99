package fourfold.it.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import fourfold.engine.io.SafetensorsReader;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static fourfold.it.cli.Cli.read;
import static fourfold.it.cli.Cli.run;
import static fourfold.it.cli.Cli.train;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The command line end to end, in this JVM: what `fourfold train / eval / generate` write and
 * print, and that a resumed run continues exactly where the saved one stopped.
 */
class CliTest {
    @TempDir
    static Path dir;

    static Path corpus;
    static Path checkpoint;
    static List<JsonObject> metrics;

    @BeforeAll
    static void trainOnce() throws IOException {
        Cli.Fixture f = Cli.Fixture.get();
        corpus = f.corpus();
        checkpoint = f.checkpoint();
        metrics = jsonLines(f.metrics());
    }

    @Test
    void trainWritesACompleteCheckpoint() throws IOException {
        // --out is the run directory: the step directory of the last save and a pointer to it.
        Path runDir = checkpoint;
        Path checkpoint = Cli.Fixture.get().step();
        assertEquals("step-000003\n", Files.readString(runDir.resolve("latest")), "latest names the last step directory");
        for (String f : List.of("config.json", "model.safetensors", "optimizer.safetensors", "trainer.json", "manifest.json")) {
            assertTrue(Files.isRegularFile(checkpoint.resolve(f)), "checkpoint file " + f);
        }
        try (var s = Files.list(runDir)) {
            assertEquals(List.of("latest", "step-000003"), s.map(p -> p.getFileName().toString()).sorted().toList(),
                    "the run directory holds the checkpoint and its pointer, no temporary files");
        }
        JsonObject config = json(checkpoint.resolve("config.json"));
        assertEquals(64, config.get("hidden_size").getAsInt(), "config.json of the `test` preset: hidden_size");
        assertEquals(2, config.get("num_key_value_heads").getAsInt(), "config.json of the `test` preset: num_key_value_heads");
        assertEquals("LlamaForCausalLM", config.getAsJsonArray("architectures").get(0).getAsString(), "config.json architectures");
        assertEquals(3, json(checkpoint.resolve("trainer.json")).get("step").getAsInt(), "trainer.json step after --steps 3");
        try (SafetensorsReader r = SafetensorsReader.open(checkpoint.resolve("model.safetensors"))) {
            assertArrayEquals(new int[]{256, 64}, r.shape("model.embed_tokens.weight"), "embedding shape (vocab, dim)");
            assertArrayEquals(new int[]{128, 64}, r.shape("model.layers.3.mlp.up_proj.weight"), "Linear weights are [out, in]");
        }
    }

    @Test
    void metricsAreOneJsonObjectPerStep() {
        assertEquals(3, metrics.size(), "one line per step");
        for (int s = 1; s <= 3; s++) {
            JsonObject m = metrics.get(s - 1);
            String what = "metrics of step " + s + ": " + m;
            assertEquals(s, m.get("step").getAsInt(), what);
            double loss = m.get("loss").getAsDouble();
            // A freshly initialized byte model predicts nearly uniformly: loss ~ ln 256 = 5.545.
            assertEquals(Math.log(256), loss, 0.3, what + ": loss");
            // Default schedule: linear warmup over 100 steps to lr 1e-3, so step s has lr 1e-3 * s / 100.
            assertEquals(1e-3 * s / 100, m.get("lr").getAsDouble(), 1e-12, what + ": lr");
            assertTrue(m.get("grad_norm").getAsDouble() > 0, what + ": grad_norm");
            assertTrue(m.get("tokens_per_s").getAsDouble() > 0, what + ": tokens_per_s");
            // --eval-every 2 over 3 steps: validation at step 2 and at the last step.
            assertEquals(s != 1, m.has("val_loss"), what + ": val_loss only on eval steps");
        }
    }

    @Test
    void evalJsonScoresEveryWindowOfTheWholeFile() {
        // The validation split as a file of its own: eval must give the final val_loss of training,
        // which scored the same windows with the same (saved) weights.
        Path validation = Cli.text(dir.resolve("validation.txt"), 10_800, 1_200);
        Cli.Run r = run("eval", "--checkpoint", checkpoint.toString(), "--data", validation.toString(), "--seq", "16", "--json", "--threads", "1")
                .requireSuccess();
        Matcher m = Pattern.compile("\\{\"loss\": ([0-9.]+), \"tokens\": ([0-9]+)}\n").matcher(r.out());
        assertTrue(m.matches(), "stdout must be exactly {\"loss\": L, \"tokens\": N} and a newline, got: " + r.out());
        assertEquals("", r.err(), "--json prints nothing else");
        assertEquals((1_200 - 1) / 16 * 16, Long.parseLong(m.group(2)), "tokens = floor((len - 1) / T) * T");
        double valLoss = metrics.get(2).get("val_loss").getAsDouble();
        assertEquals(valLoss, Double.parseDouble(m.group(1)), 2e-6 * valLoss, "eval loss of the validation split vs the last val_loss of training");

        Cli.Run human = run("eval", "--checkpoint", checkpoint.toString(), "--data", validation.toString(), "--seq", "16", "--threads", "1")
                .requireSuccess();
        assertTrue(human.out().contains("loss " + String.format(java.util.Locale.ROOT, "%.4f", Double.parseDouble(m.group(1)))),
                "without --json: a sentence with the same loss, got " + human.out());
    }

    @Test
    void evalWithContextParallelAndDocumentMasksScoresAsOneDevice() {
        Path validation = Cli.text(dir.resolve("validation-cp.txt"), 10_800, 1_200);
        String[] base = {"eval", "--checkpoint", checkpoint.toString(), "--data", validation.toString(), "--seq", "16", "--json", "--threads", "1"};
        double plain = loss(run(base)), docs = loss(run(concat(base, "--doc-mask")));
        assertTrue(Math.abs(plain - docs) > 1e-6 * plain, "--doc-mask changes the score: " + plain + " vs " + docs);
        assertEquals(plain, loss(run(concat(base, "--cp", "2", "--cp-algo", "ring"))), 2e-6 * plain, "eval --cp 2 --cp-algo ring vs one device");
        assertEquals(docs, loss(run(concat(base, "--cp", "2", "--doc-mask", "--cp-shard", "per-document"))), 2e-6 * docs,
                "eval --cp 2 --doc-mask --cp-shard per-document vs eval --doc-mask on one device");
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static double loss(Cli.Run r) {
        Matcher m = Pattern.compile("\\{\"loss\": ([0-9.]+), \"tokens\": ([0-9]+)}\n").matcher(r.requireSuccess().out());
        assertTrue(m.matches(), "eval --json output: " + r.out());
        return Double.parseDouble(m.group(1));
    }

    @Test
    void generateIsDeterministicForASeed() {
        String[] args = {"generate", "--checkpoint", checkpoint.toString(), "--prompt", "ROMEO:", "--max-tokens", "20", "--seed", "1", "--threads", "1"};
        Cli.Run a = run(args).requireSuccess();
        Cli.Run b = run(args).requireSuccess();
        args[8] = "2";
        Cli.Run c = run(args).requireSuccess();
        assertTrue(a.out().startsWith("ROMEO:"), "the prompt, then the sampled text: " + a.out());
        assertTrue(a.out().length() > "ROMEO:\n".length(), "some sampled text: " + a.out());
        assertEquals(a.out(), b.out(), "same seed, same text");
        assertNotEquals(a.out(), c.out(), "another seed, other text (20 bytes from a nearly uniform 256-way distribution)");
        assertEquals("", a.err(), "generate prints only the text");
    }

    @Test
    void versionAndHelpExitZero() {
        Cli.Run v = run("--version").requireSuccess();
        assertTrue(v.out().matches("fourfold \\d+\\.\\d+\\.\\d+ .*\\d+-lane \\(\\d+-bit\\) vectors, (6x2|4x4) GEMM tile, K blocks of \\d+, \\d+-row A blocks, \\d+-column B panels \\(L1d .* per core: .*\\)\\)\n"),
                "version line with the machine's vector width and GEMM tile, got " + v.out());
        for (String[] help : List.of(new String[]{"--help"}, new String[]{"train", "--help"}, new String[]{"eval", "--help"},
                new String[]{"generate", "--help"}, new String[]{"inspect", "--help"}, new String[]{"help", "train"})) {
            Cli.Run h = run(help).requireSuccess();
            assertTrue(h.out().startsWith("Usage: fourfold"), String.join(" ", help) + " prints usage on stdout");
            assertEquals("", h.err(), String.join(" ", help) + " prints nothing on stderr");
        }
        assertTrue(run("train", "--help").out().contains("--resume"), "train --help lists --resume");
    }

    @Test
    void progressLogIsReadableWithoutATerminal() {
        // The fixture ran without --no-progress, but the test's stderr is no terminal: no progress
        // bar, no carriage returns or escape codes, only whole log lines: the banner, the first
        // step, the eval steps, where the checkpoint went.
        Cli.Run r = Cli.Fixture.get().run();
        assertFalse(r.err().contains("\r") || r.err().contains("\033"), "no terminal control characters in a log:\n" + r.describe());
        List<String> lines = r.errLines();
        assertEquals(9, lines.size(), "banner, 3 steps, the run summary (title, header, rule, one row), checkpoint: " + lines);
        assertTrue(lines.get(0).startsWith("fourfold: training 'test' (180,800 parameters) on " + corpus), "banner first: " + lines);
        assertTrue(lines.get(1).matches("step     1/3 \\| loss 5\\.\\d{4} \\| lr 1\\.00e-05 \\| grad norm \\d\\.\\d{3} \\| \\d+(\\.\\dk)? tok/s"), "step 1: " + lines.get(1));
        for (int s = 2; s <= 3; s++) {
            assertTrue(lines.get(s).startsWith("step     " + s + "/3 | loss ") && lines.get(s).contains(" | val "), "eval step line: " + lines.get(s));
        }
        assertTrue(lines.get(4).startsWith("run summary") && lines.get(7).startsWith("| single | 1 | "), "summary after the steps: " + lines);
        assertEquals("fourfold: checkpoint written to " + checkpoint.resolve("step-000003") + " (" + checkpoint.resolve("latest")
                + " names it; try: ./fourfold generate --checkpoint " + checkpoint + ")", lines.get(8));
        assertEquals("", r.out(), "train prints its log on stderr, nothing on stdout");
    }

    // ---- resume -------------------------------------------------------------------------------

    /** A constant learning rate large enough that every step visibly moves the weights. */
    private static Cli.Run trainRun(String out, Object... more) {
        Object[] base = {"--data", corpus, "--lr-schedule", "constant", "--lr", "3e-3", "--out", dir.resolve(out),
                "--metrics-out", dir.resolve(out + ".jsonl")};
        Object[] all = Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return train(all).requireSuccess();
    }

    @Test
    void resumeContinuesBitwiseAndIntoAnotherLayout() throws IOException {
        trainRun("straight", "--steps", "4");
        trainRun("first-half", "--steps", "2");
        List<Double> straight = losses(dir.resolve("straight.jsonl"));

        // Resume into other layouts first (they read first-half), then resume first-half in place.
        for (List<String> layout : List.of(List.of("--dp", "2", "--zero", "1"), List.of("--tp", "2", "--sequence-parallel"))) {
            String name = String.join("", layout).replace("-", "");
            List<String> args = new java.util.ArrayList<>(List.of("train", "--resume", dir.resolve("first-half").toString(), "--steps", "4",
                    "--threads-per-device", "1", "--device-memory", "64m", "--no-progress",
                    "--out", dir.resolve(name).toString(), "--metrics-out", dir.resolve(name + ".jsonl").toString()));
            args.addAll(layout);
            run(args.toArray(String[]::new)).requireSuccess();
            List<Double> resumed = losses(dir.resolve(name + ".jsonl"));
            assertEquals(2, resumed.size(), "resumed at step 2 of 4: two more steps");
            for (int i = 0; i < 2; i++) {
                assertEquals(straight.get(2 + i), resumed.get(i), 1e-5 * straight.get(2 + i),
                        "loss of step " + (3 + i) + " resumed with " + layout + " vs the uninterrupted single-device run");
            }
        }

        Path half = dir.resolve("first-half");
        run("train", "--resume", half.toString(), "--steps", "4", "--threads-per-device", "1", "--device-memory", "64m", "--no-progress",
                "--out", half.toString(), "--metrics-out", dir.resolve("resumed.jsonl").toString()).requireSuccess();
        assertEquals(straight.subList(2, 4), losses(dir.resolve("resumed.jsonl")), "losses of steps 3-4, resumed vs uninterrupted");
        for (String f : List.of("model.safetensors", "optimizer.safetensors")) {
            assertArrayEquals(read(Cli.latest(dir.resolve("straight")).resolve(f)), read(Cli.latest(half).resolve(f)),
                    f + ": 2 steps + resume to 4 must be byte-identical to 4 steps in one go");
        }
        assertEquals(4, json(Cli.latest(half).resolve("trainer.json")).get("step").getAsInt(), "trainer.json step after the resume");
        try (var s = Files.list(half)) {
            assertEquals(List.of("latest", "step-000002", "step-000004"), s.map(p -> p.getFileName().toString()).sorted().toList(),
                    "resumed in place: the run directory keeps both saves");
        }
    }

    @Test
    void initStartsFromWeightsWithAFreshOptimizerAndTheCheckpointsConfig() throws IOException {
        // No --preset: the model (the `test` preset's shape) comes from the checkpoint's config.json,
        // not from the default `tiny`. Another seed, so a fresh initialization would look different.
        Path runDir = dir.resolve("from-init");
        Cli.Run r = run("train", "--init", checkpoint.toString(), "--data", corpus.toString(), "--steps", "1", "--batch", "4", "--seq", "16",
                "--lr-schedule", "constant", "--lr", "1e-3", "--seed", "7", "--threads-per-device", "1", "--device-memory", "64m",
                "--eval-windows", "8", "--no-progress", "--out", runDir.toString()).requireSuccess();
        Path out = Cli.latest(runDir), checkpoint = Cli.Fixture.get().step();
        assertTrue(r.errLines().get(0).contains("model from " + checkpoint), "the banner names the checkpoint the run directory stood for: " + r.err());
        assertEquals(json(checkpoint.resolve("config.json")), json(out.resolve("config.json")), "config.json taken from the --init checkpoint");
        assertEquals(1, json(out.resolve("trainer.json")).get("step").getAsInt(), "a new run: step count starts at 0");

        try (SafetensorsReader before = SafetensorsReader.open(checkpoint.resolve("model.safetensors"));
             SafetensorsReader after = SafetensorsReader.open(out.resolve("model.safetensors"));
             SafetensorsReader opt = SafetensorsReader.open(out.resolve("optimizer.safetensors"))) {
            for (String name : before.names()) {
                float[] w0 = before.floats(name), w1 = after.floats(name);
                float[] m = opt.floats(name + ".exp_avg"), v = opt.floats(name + ".exp_avg_sq");
                for (int i = 0; i < w0.length; i++) {
                    // One AdamW step from zero moments moves a weight by lr * (g/|g| + wd * w) at most:
                    // the weights were loaded, not initialized from --seed 7.
                    assertEquals(w0[i], w1[i], 1e-3 * (1 + 0.1 * Math.abs(w0[i])) + 1e-7, name + "[" + i + "] moved by more than one step");
                    // Fresh moments after one step: m = (1 - b1) g, v = (1 - b2) g^2, so m^2 / v = 0.1^2 / 0.01 = 1.
                    if (v[i] > 1e-20) assertEquals(1.0, (double) m[i] * m[i] / v[i], 1e-3, name + "[" + i + "]: exp_avg^2 / exp_avg_sq of a fresh optimizer");
                }
            }
        }
    }

    // ---- helpers ------------------------------------------------------------------------------

    static JsonObject json(Path file) throws IOException {
        return JsonParser.parseString(Files.readString(file)).getAsJsonObject();
    }

    static List<JsonObject> jsonLines(Path file) throws IOException {
        return Files.readAllLines(file).stream().map(l -> JsonParser.parseString(l).getAsJsonObject()).toList();
    }

    static List<Double> losses(Path metrics) throws IOException {
        return jsonLines(metrics).stream().map(o -> o.get("loss").getAsDouble()).toList();
    }

    @Test
    void kernelTimesTellWhereAStepWent() {
        for (List<String> layout : List.of(List.of("--dp", "1"), List.of("--dp", "2"))) {
            Cli.Run r = train("--steps", "10", "--kernel-times", "--eval-every", "0", "--out", dir.resolve("kt" + layout.get(1)), layout.get(0), layout.get(1))
                    .requireSuccess();
            String what = "--kernel-times with " + layout + ":\n" + r.out();
            Matcher head = Pattern.compile("steps 3\\.\\.10 \\(8 steps after 2 of warm-up\\), mean over (\\d) ranks?: ([\\d.]+) ms per step").matcher(r.out());
            assertTrue(head.find(), what + "\nheader: the timed steps (10 steps, the first fifth left out) and the ranks");
            assertEquals(layout.get(1), head.group(1), what);
            double step = Double.parseDouble(head.group(2));
            // Each rank of the `test` preset runs 7 GEMMs of each kind per layer and 4 layers, plus the LM head's: 29.
            Matcher gemm = Pattern.compile("\\| gemm_nt \\| 29 \\| ([\\d.]+) \\|").matcher(r.out());
            assertTrue(gemm.find(), what + "\nforward GEMMs per rank and step");
            Matcher all = Pattern.compile("\\| all kernels \\| \\| ([\\d.]+) \\|").matcher(r.out());
            assertTrue(all.find(), what);
            double kernels = Double.parseDouble(all.group(1));
            assertTrue(kernels > 0 && kernels <= step, what + "\nkernels take part of the step, never more than all of it");
            Matcher comm = Pattern.compile("\\| communication calls [^|]*\\| \\| ([\\d.]+) \\|").matcher(r.out());
            Matcher wait = Pattern.compile("\\| of which blocked waiting [^|]*\\| \\| ([\\d.]+) \\|").matcher(r.out());
            assertTrue(comm.find() && wait.find(), what + "\ncommunication and waiting rows");
            double commMs = Double.parseDouble(comm.group(1)), waitMs = Double.parseDouble(wait.group(1));
            assertTrue(waitMs <= commMs && kernels + commMs <= step * 1.0001, what + "\nwaiting is part of communication, and kernels + communication part of the step");
            // One device has no group to talk to: its collectives are no-ops, so no time waits in them.
            if (layout.get(1).equals("1")) assertEquals(0.0, waitMs, what + "\na single device never waits");
            assertTrue(r.out().contains("| the rest (layer code"), what);
        }
    }

    @Test
    void printScheduleShowsEachRanksActionsAndExits() {
        Cli.Run r = run("train", "--pp", "4", "--micro-batches", "8", "--schedule", "zb-h1", "--print-schedule").requireSuccess();
        assertTrue(r.out().startsWith("schedule zb-h1: pp 4, micro-batches 8, virtual stages 1\n"), r.out());
        // the paper's bubble for F = B = W = 1: (p - 1) / (3m + p - 1) = 3 / 27
        assertTrue(r.out().contains("bubble 0.1111 (mean over ranks)"), r.out());
        assertTrue(r.out().contains("rank 3 | F0 B0 F1 B1 F2 B2 F3 B3 W0 F4"), r.out());
        assertEquals("", r.err(), "nothing on stderr, no training");
    }
}
