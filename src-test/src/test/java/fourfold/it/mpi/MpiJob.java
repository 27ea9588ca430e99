package fourfold.it.mpi;

import fourfold.cli.Main;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Starts {@code mpirun -np N java ... <main> args} on this host, every process a JVM with this
 * test's class path (so no launcher build is involved), as root where needed
 * ({@code --allow-run-as-root}) and with more processes than cores ({@code --oversubscribe}).
 */
final class MpiJob {
    private MpiJob() {}

    static final String NOT_INSTALLED = "mpirun is not on PATH: the MPI tests run where Open MPI is installed"
            + " (.ci/run installs Debian's openmpi-bin and libopenmpi-dev)";

    /** Skips the calling test, with the reason, when Open MPI is not installed. */
    static void requireMpirun() {
        boolean found = false;
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "mpirun"))) found = true;
        }
        // .ci/run installs Open MPI and sets FOURFOLD_REQUIRE_MPI: there a missing mpirun is a failure, not a skip.
        if (!found && System.getenv("FOURFOLD_REQUIRE_MPI") != null) throw new AssertionError("FOURFOLD_REQUIRE_MPI is set but " + NOT_INSTALLED);
        if (!found) System.err.println("SKIPPED MPI test: " + NOT_INSTALLED);
        assumeTrue(found, NOT_INSTALLED);
    }

    record Result(int code, String output, Duration took) {}

    /** mpirun on this host alone, as root where needed and with more processes than cores. */
    static final List<String> LOCALHOST = List.of("mpirun", "--allow-run-as-root", "--oversubscribe");

    /** The command line of a job of {@code n} processes of {@code mainClass} (fourfold's CLI unless given). */
    static List<String> command(int n, String mainClass, List<String> args) {
        return command(LOCALHOST, n, mainClass, args);
    }

    /** As {@link #command(int, String, List)}, started by {@code mpirun} (the command and its options up to -np). */
    static List<String> command(List<String> mpirun, int n, String mainClass, List<String> args) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(mpirun);
        cmd.addAll(List.of("-np", String.valueOf(n),
                java, "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED", "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
                "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "-Dchronicle.analytics.disable=true", "-Xmx512m", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), mainClass == null ? Main.class.getName() : mainClass));
        cmd.addAll(args);
        return cmd;
    }

    static Process start(int n, String mainClass, List<String> args, Path log) {
        return start(LOCALHOST, n, mainClass, args, log);
    }

    static Process start(List<String> mpirun, int n, String mainClass, List<String> args, Path log) {
        try {
            return new ProcessBuilder(command(mpirun, n, mainClass, args)).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs the job to its end (at most {@code timeout}; then it is killed and the result says so). */
    static Result run(int n, String mainClass, List<String> args, Path log, Duration timeout) {
        return run(LOCALHOST, n, mainClass, args, log, timeout);
    }

    static Result run(List<String> mpirun, int n, String mainClass, List<String> args, Path log, Duration timeout) {
        long t0 = System.nanoTime();
        Process p = start(mpirun, n, mainClass, args, log);
        return finish(p, log, timeout, t0);
    }

    static Result finish(Process p, Path log, Duration timeout, long t0) {
        try {
            boolean ended = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!ended) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly().waitFor();
            }
            String out = Files.readString(log, StandardCharsets.UTF_8).lines()
                    .filter(l -> !l.startsWith("WARNING: Using incubator modules")).map(l -> l + "\n").reduce("", String::concat);
            return new Result(ended ? p.exitValue() : -1, out, Duration.ofNanos(System.nanoTime() - t0));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
