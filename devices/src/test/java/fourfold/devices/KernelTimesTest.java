package fourfold.devices;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
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
}
