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
 *
 * <p>The thread that turned measuring on (a rank's driver) also counts its time in communication
 * calls (every {@code ProcessGroup} call and handle await: {@link #commBegin}/{@link #commEnd},
 * made by the rank's groups) and, inside them, the time it was blocked waiting for other ranks,
 * a message or its comm stream ({@link #waited}), so a step splits into kernels, communication
 * (moving bytes, and waiting) and the rest (layer code, and being descheduled there).
 */
public final class KernelTimes {
    /** One kernel's totals: calls, wall nanoseconds, and the flops and bytes it reported. */
    public record Row(String kernel, long calls, long nanos, double flops, double bytes) {
        Row plus(Row o) {
            return new Row(kernel, calls + o.calls, nanos + o.nanos, flops + o.flops, bytes + o.bytes);
        }
    }

    /** The measuring thread's timer, so that waits deep inside the collectives find it. */
    private static final ThreadLocal<KernelTimes> MEASURING = new ThreadLocal<>();

    private final Map<String, Row> rows = new HashMap<>();
    private long commNanos; // measuring thread only
    private long waitNanos;
    private int commDepth;
    private long commStart;
    /** Per launching thread: {start of the running kernel's first loop (0: none yet), end of the previous kernel}. */
    private final ThreadLocal<long[]> clock = ThreadLocal.withInitial(() -> new long[2]);
    private volatile boolean on;

    /** Counts kernels from now on ({@code true}) or stops counting. */
    public void measure(boolean on) {
        this.on = on;
        MEASURING.set(on ? this : null);
        long[] c = clock.get();
        c[0] = 0;
        c[1] = System.nanoTime();
    }

    /** The timer the calling thread measures for, or null. */
    public static KernelTimes current() {
        return MEASURING.get();
    }

    /** The calling (measuring) thread enters a communication call; calls may nest, the outermost counts. */
    public void commBegin() {
        if (commDepth++ == 0) commStart = System.nanoTime();
    }

    /** ... and leaves it; a kernel without a loop of its own after it is timed from here, not from the kernel before. */
    public void commEnd() {
        if (--commDepth > 0) return;
        long now = System.nanoTime();
        commNanos += now - commStart;
        clock.get()[1] = now;
    }

    /** The calling thread was blocked {@code nanos} waiting for another rank (counted when it measures). */
    public static void waited(long nanos) {
        KernelTimes t = MEASURING.get();
        if (t != null && t.commDepth > 0) t.waitNanos += nanos;
    }

    /** Wall nanoseconds in communication calls so far (waiting included). */
    public long commNanos() {
        return commNanos;
    }

    /** Wall nanoseconds blocked waiting inside communication calls so far. */
    public long waitNanos() {
        return waitNanos;
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
