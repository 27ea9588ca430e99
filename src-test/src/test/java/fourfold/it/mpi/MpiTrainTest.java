package fourfold.it.mpi;

import fourfold.cli.Main;
import fourfold.engine.train.CheckpointHistory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `fourfold train --backend mpi` under mpirun, one process per simulated device, against the
 * in-process run of the same layout. The collectives over MPI run the in-process ring algorithms
 * in the same order, so the comparison is bitwise: losses, gradient norms, simulated step times,
 * device memory peaks, final weights and optimizer moments: dp2·tp2 and pp2·cp2 in 4 processes,
 * dp2·pp2·tp2 in 8; and with several devices per process (groups inside a process in process, groups
 * across processes over MPI, with several members of one group in one process).
 */
class MpiTrainTest {
    /** The `test` preset, 2 steps of 4 x 16 tokens, small devices: each JVM stays small and quick. */
    private static final List<String> SMALL = List.of("train", "--preset", "test", "--steps", "2", "--batch", "4", "--seq", "16",
            "--eval-every", "0", "--eval-windows", "4", "--threads-per-device", "1", "--device-memory", "48m", "--no-progress");
    private static final Duration JOB_TIMEOUT = Duration.ofMinutes(8);

    private static List<String> args(Path dir, String... more) {
        List<String> a = new ArrayList<>(SMALL);
        a.addAll(List.of("--out", dir.resolve("ckpt").toString(), "--metrics-out", dir.resolve("metrics.jsonl").toString(),
                "--trace", dir.resolve("trace.json").toString()));
        a.addAll(List.of(more));
        return a;
    }

    /**
     * The metrics of a run without the wall-clock fields, and without peak_bytes: when an async
     * bucket reduction overlaps backward, whether its staging block is counted in the peak
     * depends on thread timing (the comm stream's allocation against the driver's); checked separately.
     * The same for each device's peak of tag comm, which under MPI also holds a receive's staging
     * block (the message and its send time); the other tags of every device are compared exactly.
     */
    private static List<String> deterministicMetrics(Path file) throws IOException {
        return Files.readAllLines(file).stream()
                .map(l -> l.replaceAll("\"(tokens_per_s|step_s|peak_bytes)\":[^,}]*,?", "").replaceAll("\"comm\":\\d+", "\"comm\":_"))
                .toList();
    }

    private static List<Long> peaks(Path file) throws IOException {
        return Files.readAllLines(file).stream().map(l -> Long.parseLong(l.replaceAll(".*\"peak_bytes\":(\\d+).*", "$1"))).toList();
    }

    @Test
    void dp2tp2InFourProcessesEqualsTheInProcessRunBitwise(@TempDir Path tmp) throws IOException {
        assertMpiRunEqualsInProcess(tmp, 4, 1, "--dp", "2", "--tp", "2");
    }

    /** tp inside each process (in process), dp across the two. */
    @Test
    void dp2tp2InTwoProcessesOfTwoDevicesEqualsTheInProcessRunBitwise(@TempDir Path tmp) throws IOException {
        assertMpiRunEqualsInProcess(tmp, 2, 2, "--dp", "2", "--tp", "2");
    }

    /** Two processes of four: each dp group has two members in each process (ZeRO-3 reduce-scatters and all-gathers). */
    @Test
    void dp4tp2InTwoProcessesOfFourDevicesEqualsTheInProcessRunBitwise(@TempDir Path tmp) throws IOException {
        assertMpiRunEqualsInProcess(tmp, 2, 4, "--dp", "4", "--tp", "2", "--zero", "3");
    }

    /** Pipeline sends between two stages in one process and between processes, on one pp group. */
    @Test
    void pp4InTwoProcessesOfTwoDevicesEqualsTheInProcessRunBitwise(@TempDir Path tmp) throws IOException {
        assertMpiRunEqualsInProcess(tmp, 2, 2, "--pp", "4", "--micro-batches", "4", "--schedule", "1f1b");
    }

    /** Pipeline sends and receives and the cp exchanges of attention (ring) between processes. */
    @Test
    void pp2cp2InFourProcessesEqualsTheInProcessRunBitwise(@TempDir Path tmp) throws IOException {
        assertMpiRunEqualsInProcess(tmp, 4, 1, "--pp", "2", "--cp", "2", "--cp-algo", "ring", "--micro-batches", "2", "--schedule", "zb-h1");
    }

    @Test
    void dp2pp2tp2InEightProcessesEqualsTheInProcessRunBitwise(@TempDir Path tmp) throws IOException {
        assertMpiRunEqualsInProcess(tmp, 8, 1, "--layout", "dp2,pp2,tp2", "--zero", "1", "--micro-batches", "2");
    }

    /**
     * Two hosts (network namespaces joined by a veth pair, TCP between them), one process on each
     * with two devices: tp inside each process, dp from host to host.
     */
    @Test
    void dp2tp2OnTwoHostsEqualsTheInProcessRunBitwise(@TempDir Path tmp) throws IOException {
        MpiJob.requireMpirun();
        try (NetnsHosts hosts = NetnsHosts.createOrSkip(tmp)) {
            assertMpiRunEqualsInProcess(tmp, hosts.mpirun(1), 2, 2, "--dp", "2", "--tp", "2");
            assertTrue(hosts.startedProcessesInSecondHost(), "mpirun started the second process in the second host (its rsh agent ran there)");
        }
    }

    private static void assertMpiRunEqualsInProcess(Path tmp, int processes, int devicesPerProcess, String... layout) throws IOException {
        assertMpiRunEqualsInProcess(tmp, MpiJob.LOCALHOST, processes, devicesPerProcess, layout);
    }

    /**
     * The layout run in-process and as {@code processes} MPI processes of {@code devicesPerProcess}: the same per-step metrics
     * (bar the wall clock), peaks within a staging block, byte-identical checkpoints, one report,
     * the same trace spans.
     */
    private static void assertMpiRunEqualsInProcess(Path tmp, List<String> mpirun, int processes, int devicesPerProcess, String... layout)
            throws IOException {
        MpiJob.requireMpirun();
        String what = String.join(" ", layout) + (devicesPerProcess > 1 ? ", " + devicesPerProcess + " devices per process" : "");
        Path ref = tmp.resolve("in-process"), mpi = tmp.resolve("mpi");
        assertEquals(0, Main.execute(args(ref, layout).toArray(String[]::new)), "in-process reference run of " + what);
        List<String> mpiArgs = args(mpi, "--backend", "mpi");
        mpiArgs.addAll(List.of(layout));
        if (devicesPerProcess > 1) mpiArgs.addAll(List.of("--devices-per-process", String.valueOf(devicesPerProcess)));
        MpiJob.Result r = MpiJob.run(mpirun, processes, null, mpiArgs, tmp.resolve("mpi.log"), JOB_TIMEOUT);
        assertEquals(0, r.code(), () -> "mpirun -np " + processes + " train --backend mpi " + what + " failed:\n" + r.output());

        assertEquals(deterministicMetrics(ref.resolve("metrics.jsonl")), deterministicMetrics(mpi.resolve("metrics.jsonl")),
                what + ": per-step loss, grad norm, simulated step time and validation loss of the MPI run");
        List<Long> refPeaks = peaks(ref.resolve("metrics.jsonl")), mpiPeaks = peaks(mpi.resolve("metrics.jsonl"));
        for (int k = 0; k < refPeaks.size(); k++) {
            assertEquals((double) refPeaks.get(k), (double) mpiPeaks.get(k), 0.05 * refPeaks.get(k), what + ": peak device memory of step " + (k + 1) + " (same buffers, within one staging block)");
        }
        Path refCkpt = CheckpointHistory.latest(ref.resolve("ckpt")), mpiCkpt = CheckpointHistory.latest(mpi.resolve("ckpt"));
        assertEquals(refCkpt.getFileName(), mpiCkpt.getFileName(), "the last checkpoint's name");
        for (String f : List.of("model.safetensors", "optimizer.safetensors")) {
            assertArrayEquals(Files.readAllBytes(refCkpt.resolve(f)), Files.readAllBytes(mpiCkpt.resolve(f)),
                    what + ": " + f + " of the MPI run differs from the in-process run's");
        }
        // One report for the whole job: rank 0 prints, the other processes are silent.
        assertEquals(1, r.output().lines().filter(l -> l.startsWith("fourfold: training")).count(), () -> "one header line:\n" + r.output());
        assertEquals(1, r.output().lines().filter(l -> l.startsWith("step     2/2")).count(), () -> "one line for the last step:\n" + r.output());
        // The trace holds every rank's events, as the in-process one does.
        String trace = Files.readString(mpi.resolve("trace.json")), refTrace = Files.readString(ref.resolve("trace.json"));
        for (int rank = 0; rank < processes * devicesPerProcess; rank++) assertTrue(trace.contains("\"GPU " + rank + " (dp="), "trace names GPU " + rank);
        assertEquals(count(refTrace, "\"ph\":\"X\""), count(trace, "\"ph\":\"X\""), what + ": spans in the MPI trace against the in-process trace");
    }

    private static long count(String text, String what) {
        long n = 0;
        for (int at = text.indexOf(what); at >= 0; at = text.indexOf(what, at + 1)) n++;
        return n;
    }

    /**
     * SIGKILL to rank 1 in the middle of a run: mpirun ends the job with a non-zero exit and a
     * message naming that rank, well within the timeout, and the last checkpoint saved before
     * stays loadable.
     */
    @Test
    void aKilledProcessEndsTheJobAndTheLastCheckpointStaysLoadable(@TempDir Path tmp) throws Exception {
        MpiJob.requireMpirun();
        Path dir = tmp.resolve("run");
        List<String> a = new ArrayList<>(args(dir, "--backend", "mpi", "--dp", "2", "--save-every", "1"));
        a.set(a.indexOf("--steps") + 1, "100000");
        Path log = tmp.resolve("killed.log");
        long t0 = System.nanoTime();
        Process job = MpiJob.start(2, null, a, log);
        Path saved = dir.resolve("ckpt").resolve(CheckpointHistory.LATEST); // written after the first checkpoint
        long deadline = System.nanoTime() + JOB_TIMEOUT.toNanos();
        while (!Files.exists(saved) && job.isAlive() && System.nanoTime() < deadline) Thread.sleep(200);
        assertTrue(Files.exists(saved), () -> "no checkpoint was saved before the kill; job output:\n" + MpiJob.finish(job, log, Duration.ofSeconds(1), t0).output());
        ProcessHandle rank1 = worldRank(job, 1).orElseThrow(() -> new AssertionError("no process of MPI world rank 1 under mpirun"));
        long killedAt = System.nanoTime();
        rank1.destroyForcibly(); // SIGKILL
        MpiJob.Result r = MpiJob.finish(job, log, Duration.ofMinutes(2), t0);
        double seconds = (System.nanoTime() - killedAt) / 1e9;
        assertNotEquals(-1, r.code(), () -> "the job did not end within 2 minutes of the kill:\n" + r.output());
        assertNotEquals(0, r.code(), () -> "a job with a killed rank must exit non-zero:\n" + r.output());
        assertTrue(r.output().contains("rank 1") && r.output().contains("signal 9"), () -> "the message must name rank 1 and its signal:\n" + r.output());
        System.err.printf("killed rank 1: job ended %.1f s later, exit %d%n", seconds, r.code());

        Path corpus = Files.writeString(tmp.resolve("eval.txt"), "To be, or not to be, that is the question:\n".repeat(4));
        assertEquals(0, Main.execute("eval", "--checkpoint", dir.resolve("ckpt").toString(), "--data", corpus.toString(), "--seq", "16", "--json"),
                "the last checkpoint before the kill must load and evaluate");
    }

    /** The descendant JVM of the mpirun process whose environment says it is MPI world rank {@code rank}. */
    private static Optional<ProcessHandle> worldRank(Process mpirun, int rank) {
        return mpirun.descendants().filter(h -> {
            try {
                String env = Files.readString(Path.of("/proc", String.valueOf(h.pid()), "environ"));
                return env.contains("\0OMPI_COMM_WORLD_RANK=" + rank + "\0") && h.info().command().orElse("").endsWith("java");
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }).findFirst();
    }
}
