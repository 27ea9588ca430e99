package fourfold.devices;

import fourfold.devices.comm.CollectiveTimeoutException;
import fourfold.devices.comm.CommHandle;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.ReduceOp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Failures end a run promptly and cleanly: one exception naming the rank that failed, the others
 * aborted, no rank or comm thread left running, no device memory left allocated, and the cluster
 * usable for the next run. A rank that skips a collective makes the others time out naming it;
 * mismatched sizes give an error that names both sizes.
 *
 * <p>"Promptly" is checked by what ended the run, never by how long it took (a busy host may take
 * seconds): an abort ends the other ranks with {@link ClusterAbortedException}, while a rank that
 * was left waiting would end, after the collective timeout, with {@link CollectiveTimeoutException}.
 * That timeout is long ({@link #NEVER}) where a timeout would be a failure.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES) // a hang guard only: a run that hangs fails here instead of stalling the build
class ClusterFaultTest {
    static final long MIB = 1 << 20;
    /** A collective timeout no working run reaches, even on a slow or busy host. */
    static final Duration NEVER = Duration.ofSeconds(60);

    private static Cluster cluster(int n, Duration timeout) {
        return new Cluster(new Mesh(n, 1, 1, 1), ClusterConfig.defaults()
                .withMemoryPerDevice(8 * MIB).withThreadsPerDevice(1).withCollectiveTimeout(timeout));
    }

    @Test
    void aRankFailingInsideACollectiveAbortsTheOthersPromptlyAndCleanly() {
        try (Cluster c = cluster(4, NEVER)) {
            ClusterException e = assertThrows(ClusterException.class, () -> c.run(rank -> {
                try (DeviceMemory.Block buf = rank.device().memory().allocate(MIB, MemoryTag.GRADS, "grads");
                     DeviceMemory.Block hog = rank.device().memory().allocate(rank.rank() == 2 ? 6 * MIB + MIB / 2 : 0, MemoryTag.PARAMS, "hog")) {
                    // Rank 2 has no room for the collective's 1 MiB of staging: it fails after joining,
                    // while the others are inside the same all-reduce waiting for it.
                    rank.group(Axis.DP).allReduce(buf.segment(), ReduceOp.SUM);
                }
                return null;
            }));
            assertEquals(2, e.failedRank());
            assertInstanceOf(DeviceOutOfMemoryError.class, e.getCause());
            assertTrue(e.getMessage().startsWith("rank 2 (dp=2, pp=0, cp=0, tp=0) failed"), e.getMessage());
            for (int r : new int[] {0, 1, 3}) {
                Throwable t = e.rankFailures().get(r);
                assertInstanceOf(ClusterAbortedException.class, t, "rank " + r + " must be ended by the abort (ClusterAbortedException), not by the collective timeout");
                assertEquals(2, ((ClusterAbortedException) t).failedRank());
                assertTrue(t.getMessage().contains("rank 2 failed"), t.getMessage());
            }
            assertCleanAfterRun(c);

            // The cluster is still usable.
            List<Float> sums = c.run(rank -> {
                try (DeviceMemory.Block b = rank.device().memory().allocate(4, MemoryTag.GRADS, "x")) {
                    b.segment().set(java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, rank.rank() + 1);
                    rank.group(Axis.DP).allReduce(b.segment(), ReduceOp.SUM);
                    return b.segment().get(java.lang.foreign.ValueLayout.JAVA_FLOAT, 0);
                }
            });
            assertEquals(List.of(10f, 10f, 10f, 10f), sums, "an all-reduce after the failed run");
        }
    }

    @Test
    void aRankThrowingWhileItsAsyncCollectiveIsInFlightAbortsEveryone() {
        try (Cluster c = cluster(4, NEVER)) {
            ClusterException e = assertThrows(ClusterException.class, () -> c.run(rank -> {
                try (DeviceMemory.Block buf = rank.device().memory().allocate(4 * MIB, MemoryTag.GRADS, "grads")) {
                    ProcessGroup dp = rank.group(Axis.DP);
                    CommHandle h = dp.allReduceAsync(buf.segment(), ReduceOp.SUM);
                    CommHandle h2 = dp.allReduceAsync(buf.segment(), ReduceOp.SUM);
                    if (rank.rank() == 1) throw new IllegalStateException("loss is NaN on rank 1");
                    h.await();
                    h2.await();
                    dp.barrier();
                }
                return null;
            }));
            assertEquals(1, e.failedRank());
            assertInstanceOf(IllegalStateException.class, e.getCause());
            assertTrue(e.getMessage().contains("loss is NaN on rank 1"), e.getMessage());
            for (int r : new int[] {0, 2, 3}) {
                assertInstanceOf(ClusterAbortedException.class, e.rankFailures().get(r), "rank " + r + " must be ended by the abort, not by the collective timeout");
            }
            assertCleanAfterRun(c);
        }
    }

    @Test
    void aRankThatSkipsACollectiveMakesTheOthersTimeOutNamingIt() {
        try (Cluster c = cluster(4, Duration.ofMillis(300))) {
            long start = System.nanoTime();
            ClusterException e = assertThrows(ClusterException.class, () -> c.run(rank -> {
                if (rank.rank() == 3) return null; // forgets the all-reduce
                try (DeviceMemory.Block buf = rank.device().memory().allocate(MIB, MemoryTag.GRADS, "grads")) {
                    rank.group(Axis.DP).allReduce(buf.segment(), ReduceOp.SUM);
                }
                return null;
            }));
            double seconds = (System.nanoTime() - start) / 1e9;
            assertTrue(seconds >= 0.3, "the ranks that joined waited the whole 300 ms timeout before failing, not " + seconds + " s");
            assertInstanceOf(CollectiveTimeoutException.class, e.getCause());
            String msg = e.getCause().getMessage();
            assertTrue(msg.contains("allReduce #0 on group dp"), msg);
            assertTrue(msg.contains("rank(s) [3] never joined"), msg);
            assertCleanAfterRun(c);
        }
    }

    @Test
    void mismatchedSizesAcrossRanksGiveAnErrorNamingBothSizes() {
        try (Cluster c = cluster(3, NEVER)) {
            ClusterException e = assertThrows(ClusterException.class, () -> c.run(rank -> {
                long floats = rank.rank() == 1 ? 101 : 100;
                try (DeviceMemory.Block buf = rank.device().memory().allocate(floats * 4, MemoryTag.GRADS, "grads")) {
                    rank.group(Axis.DP).allReduce(buf.segment(), ReduceOp.SUM);
                }
                return null;
            }));
            IllegalArgumentException cause = assertInstanceOf(IllegalArgumentException.class, e.getCause());
            assertTrue(cause.getMessage().contains("allReduce of 101 floats (SUM)") && cause.getMessage().contains("allReduce of 100 floats (SUM)"),
                    cause.getMessage());
            assertTrue(cause.getMessage().contains("every member must pass the same count"), cause.getMessage());
            assertCleanAfterRun(c);

            ClusterException p2p = assertThrows(ClusterException.class, () -> c.run(rank -> {
                ProcessGroup dp = rank.group(Axis.DP);
                try (DeviceMemory.Block buf = rank.device().memory().allocate(rank.rank() == 0 ? 40 : 44, MemoryTag.ACTIVATIONS, "act")) {
                    if (rank.rank() == 0) dp.send(buf.segment(), 1, 5);
                    if (rank.rank() == 1) dp.recv(buf.segment(), 0, 5);
                }
                return null;
            }));
            assertEquals(1, p2p.failedRank());
            assertTrue(p2p.getCause().getMessage().contains("the message holds 10 floats but the receive buffer holds 11"), p2p.getCause().getMessage());
            assertCleanAfterRun(c);
        }
    }

    @Test
    void localMisuseIsRefusedBeforeAnythingMoves() {
        try (Cluster c = cluster(2, NEVER)) {
            ClusterException e = assertThrows(ClusterException.class, () -> c.run(rank -> {
                try (DeviceMemory.Block in = rank.device().memory().allocate(400, MemoryTag.GRADS, "in");
                     DeviceMemory.Block out = rank.device().memory().allocate(rank.rank() == 0 ? 200 : 196, MemoryTag.GRADS, "out")) {
                    rank.group(Axis.DP).reduceScatter(in.segment(), out.segment());
                }
                return null;
            }));
            assertEquals(1, e.failedRank());
            assertTrue(e.getCause().getMessage().contains("output holds 49 floats, but group rank 1 of 2 receives chunk [50, 100) of the 100-float input = 50 floats"),
                    e.getCause().getMessage());
            ClusterException heap = assertThrows(ClusterException.class, () -> c.run(rank -> {
                rank.group(Axis.DP).allReduce(MemorySegment.ofArray(new float[8]), ReduceOp.SUM);
                return null;
            }));
            assertTrue(heap.getCause().getMessage().contains("is not in the memory of GPU"), heap.getCause().getMessage());
            var outside = assertThrows(IllegalStateException.class, () -> c.rank(0).group(Axis.DP).barrier());
            assertTrue(outside.getMessage().contains("only inside Cluster.run"), outside.getMessage());
            assertCleanAfterRun(c);
        }
    }

    /** No rank or comm thread alive, and every device's memory back to zero. */
    static void assertCleanAfterRun(Cluster c) {
        List<String> alive = Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("fourfold-rank-") || n.startsWith("fourfold-comm-")).toList();
        assertTrue(alive.isEmpty(), "threads left running after the run: " + alive);
        for (Device d : c.devices()) {
            assertEquals(0, d.memory().inUse(), d + " still holds " + d.memory().inUse() + " bytes (" + d.memory().inUse(MemoryTag.COMM) + " comm)");
        }
    }
}
