package fourfold.devices.comm;

/**
 * What the ring would have cost, computed by one member from every member's start time: the
 * simulated times and byte counts of the hardware profile's algorithm, for collectives whose bytes
 * another algorithm moved. The arithmetic is {@link Collective}'s, operation for operation, so the
 * times are bitwise the ones the ring's members would have published to each other: step s of
 * member r ends at max(t[r-1][s-1], t[r][s-1]) + latency + chunkBytes / bandwidth of the link
 * r-1 -> r.
 */
final class RingModel {
    private final InProcessGroup group;
    private final long count;
    private final int n;

    RingModel(InProcessGroup group, long count) {
        this.group = group;
        this.count = count;
        this.n = group.size();
    }

    private int mod(int a) {
        return ((a % n) + n) % n;
    }

    private long chunkBytes(int k) {
        return ProcessGroup.chunk(count, n, mod(k)).length() * Float.BYTES;
    }

    /** Every member's end of a ring reduce-scatter whose members started at {@code start}. */
    double[] reduceScatter(double[] start) {
        return pass(start, 1);
    }

    /** Every member's end of a ring all-gather (for an all-reduce: started at the reduce-scatter's ends). */
    double[] allGather(double[] start) {
        return pass(start, 0);
    }

    /**
     * n-1 ring steps; at step s member j receives chunk j-s-{@code shift} from j-1 (reduce-scatter
     * receives the partial sum its predecessor started at step s-1, all-gather the chunk it forwarded).
     */
    private double[] pass(double[] start, int shift) {
        double[] t = start.clone();
        double[] next = new double[n];
        for (int s = 1; s < n; s++) {
            for (int j = 0; j < n; j++) {
                int from = mod(j - 1);
                next[j] = Math.max(t[from], t[j]) + group.link(from, j).time(chunkBytes(j - s - shift));
            }
            double[] done = t;
            t = next;
            next = done;
        }
        return t;
    }

    /** Bytes member {@code i} sends in a ring reduce-scatter: every chunk but its own. */
    long reduceScatterSent(int i) {
        return count * Float.BYTES - chunkBytes(i);
    }

    /** Every chunk but its predecessor's (which the predecessor started with and never receives back). */
    long reduceScatterReceived(int i) {
        return count * Float.BYTES - chunkBytes(i - 1);
    }

    /** Every chunk but its successor's (which the successor already holds). */
    long allGatherSent(int i) {
        return count * Float.BYTES - chunkBytes(i + 1);
    }

    long allGatherReceived(int i) {
        return count * Float.BYTES - chunkBytes(i);
    }
}
