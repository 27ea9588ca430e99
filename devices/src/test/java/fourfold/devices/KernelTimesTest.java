package fourfold.devices;

import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.ReduceOp;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Wall-clock kernel times: what counts as a kernel's time, and when counting is on. */
class KernelTimesTest {
    private static final long MS = 1_000_000;

    /** Busy work on every chunk of a parallel loop, at least {@code ms} on the launching thread. */
    private static void loop(Device d, long ms) {
        d.parallelFor(8, 1, (s, e) -> {
            long end = System.nanoTime() + ms * MS;
            while (System.nanoTime() < end) Thread.onSpinWait();
        });
    }

    private static Map<String, KernelTimes.Row> byName(KernelTimes t) {
        return t.rows().stream().collect(Collectors.toMap(KernelTimes.Row::kernel, r -> r));
    }

    @Test
    void aKernelIsTimedFromItsFirstLoopToItsEndAndCodeBeforeItIsNot() throws InterruptedException {
        try (Device d = new Device(0, 1 << 20, 2)) {
            KernelTimes t = new KernelTimes();
            d.setKernelTimes(t);
            t.measure(true);
            Thread.sleep(100);                      // layer code before the kernel
            long firstLoopCalled = System.nanoTime();
            loop(d, 20);
            loop(d, 20);                            // one kernel, two loops
            d.recordCompute("two_loops", 100, 200);
            d.recordCompute("two_loops", 100, 200); // a second call without a loop of its own
            long kernelReturned = System.nanoTime();
            t.measure(false);
            loop(d, 1);
            d.recordCompute("after", 1, 1);         // counting is off

            Map<String, KernelTimes.Row> rows = byName(t);
            assertEquals(List.of("two_loops"), List.copyOf(rows.keySet()), "only kernels that end while measuring");
            KernelTimes.Row r = rows.get("two_loops");
            assertEquals(2, r.calls(), "calls");
            assertEquals(200, r.flops(), "reported flops, summed");
            assertEquals(400, r.bytes(), "reported bytes, summed");
            // Bounds that hold at any speed: each loop spins >= 20 ms; the kernel's time lies within
            // what this thread saw from the first loop's call to the kernel's end, so the sleep
            // before it (>= 100 ms) is not in it.
            assertTrue(r.nanos() >= 40 * MS, "both loops count: " + r.nanos() / 1e6 + " ms");
            assertTrue(r.nanos() <= kernelReturned - firstLoopCalled, "the sleep before the first loop does not count: "
                    + r.nanos() / 1e6 + " ms counted, " + (kernelReturned - firstLoopCalled) / 1e6 + " ms from the first loop to the end");
        }
    }

    @Test
    void sumAddsDevicesKernelByKernelLongestFirst() {
        try (Device a = new Device(0, 1 << 20, 1); Device b = new Device(1, 1 << 20, 1)) {
            KernelTimes ta = new KernelTimes(), tb = new KernelTimes();
            a.setKernelTimes(ta);
            b.setKernelTimes(tb);
            ta.measure(true);
            tb.measure(true);
            loop(a, 5);
            a.recordCompute("short", 1, 0);
            loop(a, 30);
            a.recordCompute("long", 2, 0);
            loop(b, 30);
            b.recordCompute("long", 3, 0);
            List<KernelTimes.Row> sum = KernelTimes.sum(List.of(ta, tb));
            long longNanos = byName(ta).get("long").nanos() + byName(tb).get("long").nanos(), shortNanos = byName(ta).get("short").nanos();
            Map<String, KernelTimes.Row> summed = sum.stream().collect(Collectors.toMap(KernelTimes.Row::kernel, r -> r));
            assertEquals(longNanos, summed.get("long").nanos(), "times of both devices");
            assertEquals(shortNanos, summed.get("short").nanos(), "a kernel of one device");
            // Usually long (>= 60 ms) before short (>= 5 ms), but only the measured times decide.
            assertEquals(longNanos >= shortNanos ? List.of("long", "short") : List.of("short", "long"),
                    sum.stream().map(KernelTimes.Row::kernel).toList(), "longest first: long " + longNanos + " ns, short " + shortNanos + " ns");
            assertEquals(2, summed.get("long").calls(), "calls of both devices");
            assertEquals(5, summed.get("long").flops(), "flops of both devices");
        }
    }

    /**
     * Rank 1 reaches the all-reduce at least 80 ms after rank 0 is about to: rank 0's time in the call is
     * mostly waiting, and a kernel without a loop after it is timed from the call's end.
     */
    @Test
    void communicationCallsAndTheWaitingInsideThemAreTimedApart() {
        AtomicBoolean rank0Calls = new AtomicBoolean();
        try (Cluster cluster = new Cluster(new Mesh(2, 1, 1, 1), ClusterConfig.defaults().withMemoryPerDevice(1 << 20).withThreadsPerDevice(1))) {
            List<long[]> out = cluster.run(rank -> {
                KernelTimes t = new KernelTimes();
                rank.device().setKernelTimes(t);
                ProcessGroup dp = rank.group(Axis.DP);
                try (DeviceMemory.Block b = rank.device().memory().allocate(64 * Float.BYTES, MemoryTag.COMM, "x")) {
                    dp.allReduce(b.segment(), ReduceOp.SUM); // loads the classes of the collectives, which is not waiting
                    t.measure(true);
                    if (rank.rank() == 1) { // 80 ms after rank 0 is about to call
                        while (!rank0Calls.get()) Thread.onSpinWait();
                        Thread.sleep(80);
                    }
                    long before = System.nanoTime();
                    if (rank.rank() == 0) rank0Calls.set(true);
                    dp.allReduce(b.segment(), ReduceOp.SUM);
                    long inCall = System.nanoTime() - before;
                    rank.device().recordCompute("after", 1, 1); // no loop: timed from the all-reduce's end
                    t.measure(false);
                    return new long[] {t.commNanos(), t.waitNanos(), inCall, byName(t).get("after").nanos()};
                }
            });
            long[] r0 = out.get(0), r1 = out.get(1);
            assertTrue(r0[1] >= 60 * MS, "rank 0 waited for rank 1's 80 ms: " + r0[1] / 1e6 + " ms (in communication " + r0[0] / 1e6 + " ms, in the call " + r0[2] / 1e6 + " ms)");
            assertTrue(r0[1] <= r0[0] && r0[0] <= r0[2], "waiting within communication within the call: wait " + r0[1] / 1e6
                    + " ms, communication " + r0[0] / 1e6 + " ms, call " + r0[2] / 1e6 + " ms");
            assertTrue(r1[1] <= r1[0], "rank 1: waiting within communication");
            assertTrue(r0[3] < 60 * MS, "the kernel after the call does not include the wait: " + r0[3] / 1e6 + " ms");
        }
    }
}
