package fourfold.it.cli;

import fourfold.cli.Main;
import fourfold.engine.data.TextDataset;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs the `fourfold` command in this JVM ({@link Main#execute}) with stdout and stderr captured,
 * as a user would see them in a terminal or a log file.
 */
final class Cli {
    private Cli() {}

    /** The settings that keep one training run to a second or two: the `test` preset, 3 steps of 4 x 16 tokens. */
    static final List<String> TINY = List.of("--preset", "test", "--steps", "3", "--batch", "4", "--seq", "16",
            "--eval-windows", "8", "--threads-per-device", "1", "--device-memory", "64m", "--no-progress");

    /** What one command printed and returned. */
    record Run(List<String> args, int code, String out, String err) {
        List<String> errLines() {
            return err.lines().toList();
        }

        String describe() {
            return "fourfold " + String.join(" ", args) + "\n  exit " + code + "\n  stdout: " + out.strip() + "\n  stderr: " + err.strip();
        }

        Run requireSuccess() {
            assertEquals(0, code, () -> "expected exit code 0 from\n" + describe());
            return this;
        }

        /**
         * A user error as the spec wants it: exit {@code code}, exactly one line on stderr, starting
         * with "fourfold: error:", no stack trace, nothing on stdout. Returns that line.
         */
        String requireOneLineError(int expectedCode) {
            assertEquals(expectedCode, code, () -> "exit code of\n" + describe());
            assertEquals(1, errLines().size(), () -> "stderr must be exactly one line:\n" + describe());
            String line = errLines().get(0);
            assertTrue(line.startsWith("fourfold: error: "), () -> "the error line must start with 'fourfold: error: ':\n" + describe());
            assertNoStackTrace(this);
            assertEquals("", out, () -> "nothing on stdout when a command fails:\n" + describe());
            return line;
        }
    }

    /** Checks the one-line user error (exit 2) of {@code r} and returns the message after "fourfold: error: ". */
    static String error(Run r) {
        return r.requireOneLineError(2).substring("fourfold: error: ".length());
    }

    static void assertMentions(String message, String... parts) {
        for (String p : parts) assertTrue(message.contains(p), "the message should mention '" + p + "': " + message);
    }

    /** No stack trace, and no Java exception or class names leaking into a message meant for users. */
    static void assertNoStackTrace(Run r) {
        for (String bad : List.of("\tat ", "Exception", "java.", "Caused by")) {
            assertFalse(r.err.contains(bad), () -> "no stack trace or Java exception names on stderr (found '" + bad + "'):\n" + r.describe());
        }
    }

    /** Runs `fourfold args...`; System.out and System.err are swapped only for its duration. */
    static synchronized Run run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8); PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            System.setOut(o);
            System.setErr(e);
            code = Main.execute(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        Run r = new Run(List.of(args), code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        // Show what a user would have seen, for whoever reads the test log.
        oldErr.println("$ " + r.describe().replace("\n", "\n    "));
        return r;
    }

    /**
     * Runs the command in a new JVM with {@code jvmOptions} (options read once per JVM, such as the
     * kernels' -D tuning options, cannot be tried in this one). The JVM's own notice about incubator
     * modules is dropped from stderr: the launcher's users see it too, and it is not fourfold's.
     */
    static Run runInNewJvm(List<String> jvmOptions, String... args) {
        try {
            Process p = startInNewJvm(jvmOptions, args);
            byte[] out = p.getInputStream().readAllBytes(), err = p.getErrorStream().readAllBytes();
            int code = p.waitFor();
            String errText = new String(err, StandardCharsets.UTF_8).lines()
                    .filter(l -> !l.startsWith("WARNING: Using incubator modules")).map(l -> l + "\n").reduce("", String::concat);
            List<String> shown = new ArrayList<>(jvmOptions);
            shown.addAll(List.of(args));
            return new Run(shown, code, new String(out, StandardCharsets.UTF_8), errText);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Starts the command in a new JVM (with the launcher's JVM flags) and returns the running process; stdin is closed. */
    static Process startInNewJvm(List<String> jvmOptions, String... args) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED", "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
                "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-Dchronicle.analytics.disable=true"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).start();
        p.getOutputStream().close();
        return p;
    }

    /**
     * `fourfold train` with the {@link #TINY} settings and {@code more} flags; a flag in {@code more}
     * replaces the TINY one (picocli refuses an option given twice).
     */
    static Run train(Object... more) {
        return run(trainArgs(more));
    }

    /** The arguments of {@link #train}. */
    static String[] trainArgs(Object... more) {
        List<String> extra = Arrays.stream(more).map(Object::toString).toList();
        List<String> args = new ArrayList<>(List.of("train"));
        for (int i = 0; i < TINY.size(); i++) {
            String flag = TINY.get(i);
            boolean hasValue = i + 1 < TINY.size() && !TINY.get(i + 1).startsWith("--");
            if (!extra.contains(flag)) {
                args.add(flag);
                if (hasValue) args.add(TINY.get(i + 1));
            }
            if (hasValue) i++;
        }
        args.addAll(extra);
        return args.toArray(String[]::new);
    }

    /**
     * One training run that both CLI test classes read (run once per JVM, on first use): 3 steps of
     * the `test` preset on 12,000 bytes of Tiny Shakespeare (train split [0, 10800), validation
     * split [10800, 12000)), validation over the whole split at steps 2 and 3, metrics to a file in
     * a folder that does not exist yet, and no --no-progress (the test's stderr is no terminal).
     */
    record Fixture(Path dir, Path corpus, Path checkpoint, Path metrics, Run run) {
        /** The checkpoint the run saved at its end: {@code checkpoint} is its run directory. */
        Path step() {
            return checkpoint.resolve("step-000003");
        }

        private static Fixture instance;

        static synchronized Fixture get() {
            if (instance == null) {
                try {
                    Path dir = Files.createTempDirectory("fourfold-cli-test");
                    Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(dir)));
                    Path corpus = text(dir.resolve("corpus.txt"), 0, 12_000);
                    Path checkpoint = dir.resolve("ck"), metrics = dir.resolve("logs/metrics.jsonl");
                    List<String> args = new ArrayList<>(List.of("train", "--preset", "test", "--steps", "3", "--batch", "4", "--seq", "16",
                            "--threads-per-device", "1", "--device-memory", "64m", "--data", corpus.toString(), "--eval-every", "2",
                            "--eval-windows", "0", "--out", checkpoint.toString(), "--metrics-out", metrics.toString()));
                    instance = new Fixture(dir, corpus, checkpoint, metrics, Cli.run(args.toArray(String[]::new)).requireSuccess());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            return instance;
        }
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            // best effort at JVM exit
        }
    }

    /** A small text file: {@code n} bytes of the embedded Tiny Shakespeare corpus from {@code from}. */
    static Path text(Path file, int from, int n) {
        var span = TextDataset.embedded().all();
        int[] ids = new int[n];
        span.copyTokens(from, n, ids, 0);
        byte[] bytes = new byte[n];
        for (int i = 0; i < n; i++) bytes[i] = (byte) ids[i];
        return write(file, bytes);
    }

    static Path write(Path file, byte[] bytes) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            return Files.write(file, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The checkpoint that a run directory's {@code latest} file names. */
    static Path latest(Path runDir) {
        try {
            return runDir.resolve(Files.readString(runDir.resolve("latest")).strip());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Copies a checkpoint directory (flat: it holds only files). */
    static Path copyDir(Path from, Path to) {
        try {
            Files.createDirectories(to);
            try (Stream<Path> s = Files.list(from)) {
                for (Path p : s.toList()) Files.copy(p, to.resolve(p.getFileName()));
            }
            return to;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every file of a flat directory, by name, with its bytes: to check that nothing changed. */
    static java.util.Map<String, byte[]> snapshot(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            java.util.Map<String, byte[]> m = new java.util.TreeMap<>();
            for (Path p : s.toList()) m.put(p.getFileName().toString(), read(p));
            return m;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void assertSameFiles(java.util.Map<String, byte[]> before, Path dir, String what) {
        java.util.Map<String, byte[]> after = snapshot(dir);
        assertEquals(before.keySet(), after.keySet(), what + ": the files of " + dir);
        for (String name : before.keySet()) {
            assertTrue(Arrays.equals(before.get(name), after.get(name)), what + ": " + dir.resolve(name) + " changed");
        }
    }
}
