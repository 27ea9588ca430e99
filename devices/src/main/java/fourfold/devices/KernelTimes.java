package fourfold.devices;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Wall-clock time of each kernel on one device, by kernel name: what `fourfold train
 * --kernel-times` prints. A kernel is timed on the thread that launches it, from the start of its
 * first parallel loop ({@link Device#parallelFor}) to its {@link Device#recordCompute} (the last
 * thing every kernel does), so its serial parts between loops count and the layer code before it
 * does not. A kernel without a parallel loop is timed from the previous kernel's end.
 * Only kernels that end while {@link #measure} is on are counted.
 */
public final class KernelTimes {
    /** One kernel's totals: calls, wall nanoseconds, and the flops and bytes it reported. */
    public record Row(String kernel, long calls, long nanos, double flops, double bytes) {
        Row plus(Row o) {
            return new Row(kernel, calls + o.calls, nanos + o.nanos, flops + o.flops, bytes + o.bytes);
        }
    }

    private final Map<String, Row> rows = new HashMap<>();
    /** Per launching thread: {start of the running kernel's first loop (0: none yet), end of the previous kernel}. */
    private final ThreadLocal<long[]> clock = ThreadLocal.withInitial(() -> new long[2]);
    private volatile boolean on;

    /** Counts kernels from now on ({@code true}) or stops counting. */
    public void measure(boolean on) {
        this.on = on;
        long[] c = clock.get();
        c[0] = 0;
        c[1] = System.nanoTime();
    }

    void loopStarted() {
        if (!on) return;
        long[] c = clock.get();
        if (c[0] == 0) c[0] = System.nanoTime();
    }

    void kernelEnded(String kernel, double flops, double bytes) {
        if (!on) return;
        long[] c = clock.get();
        long now = System.nanoTime();
        long start = c[0] != 0 ? c[0] : c[1];
        c[0] = 0;
        c[1] = now;
        Row add = new Row(kernel, 1, now - start, flops, bytes);
        synchronized (rows) {
            rows.merge(kernel, add, Row::plus);
        }
    }

    /** The totals so far, longest first. */
    public List<Row> rows() {
        List<Row> out;
        synchronized (rows) {
            out = new ArrayList<>(rows.values());
        }
        out.sort(Comparator.comparingLong(Row::nanos).reversed().thenComparing(Row::kernel));
        return out;
    }

    /** Kernel by kernel sums of several devices' times (for a mean over ranks). */
    public static List<Row> sum(List<KernelTimes> devices) {
        Map<String, Row> all = new HashMap<>();
        for (KernelTimes t : devices) {
            for (Row r : t.rows()) all.merge(r.kernel(), r, Row::plus);
        }
        List<Row> out = new ArrayList<>(all.values());
        out.sort(Comparator.comparingLong(Row::nanos).reversed().thenComparing(Row::kernel));
        return out;
    }
}
