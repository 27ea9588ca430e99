package fourfold.devices.comm;

import fourfold.devices.Axis;
import fourfold.devices.Cluster;
import fourfold.devices.ClusterConfig;
import fourfold.devices.Device;
import fourfold.devices.DeviceMemory;
import fourfold.devices.Mesh;
import fourfold.devices.Rank;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static fourfold.devices.TestBuffers.alloc;
import static fourfold.devices.TestBuffers.freeAll;
import static fourfold.devices.TestBuffers.put;
import static fourfold.devices.TestBuffers.read;
import static fourfold.devices.TestBuffers.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every collective on groups of 1 to 8 members against a sequential reference computed here,
 * element by element, in the documented order. Results must match bit for bit: the ring sums
 * chunk k in the order x[k+1], x[k+2], ..., x[k], so a different order (or a lost or doubled
 * contribution) changes the rounding and fails.
 *
 * <p>The slice is set to 1027 floats (not a multiple of the vector length) so long buffers take
 * many rounds and slices start at odd offsets; lengths include 0, 1, primes, lengths shorter than
 * the group (empty chunks) and one large prime.
 */
class CollectivesTest {
    static final int[] LENGTHS = {0, 1, 3, 7, 13, 1031, 10_007};
    static final int LARGE = 10_007;

    static Cluster cluster(int n) {
        return new Cluster(new Mesh(n, 1, 1, 1), ClusterConfig.defaults()
                .withMemoryPerDevice(32L << 20).withThreadsPerDevice(1)
                .withCollectiveTimeout(Duration.ofSeconds(20)).withSliceBytes(1027 * 4));
    }

    @ParameterizedTest(name = "{0} members")
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
    void everyCollectiveEqualsTheSequentialReference(int n) {
        try (Cluster cluster = cluster(n)) {
            AtomicInteger arrived = new AtomicInteger();
            List<Map<String, float[]>> out = cluster.run(rank -> program(rank, arrived));
            for (int len : LENGTHS) checkLength(out, n, len);
            checkAsyncAndInPlace(out, n);

            // Reruns give the same bits, and nothing is left allocated between runs.
            List<Map<String, float[]>> again = cluster.run(rank -> program(rank, new AtomicInteger()));
            for (int r = 0; r < n; r++) {
                for (String key : out.get(r).keySet()) {
                    if (key.startsWith("allReduce")) {
                        assertArrayEquals(out.get(r).get(key), again.get(r).get(key), key + " on rank " + r + " differs between two runs");
                    }
                }
                assertEquals(0, cluster.device(r).memory().inUse(), "rank " + r + " device memory in use after the runs");
            }
        }
    }

    /** What every rank does: each collective on each length; returns its outputs by name. */
    static Map<String, float[]> program(Rank rank, AtomicInteger arrived) {
        ProcessGroup g = rank.group(Axis.DP);
        Device d = rank.device();
        int n = g.size();
        int r = g.rank();
        Map<String, float[]> out = new LinkedHashMap<>();
        List<DeviceMemory.Block> owned = new ArrayList<>();
        for (int len : LENGTHS) {
            for (ReduceOp op : ReduceOp.values()) {
                MemorySegment b = put(d, values(r, len, 1), owned);
                g.allReduce(b, op);
                out.put("allReduce " + op + " " + len, read(b));
            }
            for (ReduceOp op : new ReduceOp[] {ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MAX}) {
                MemorySegment in = put(d, values(r, len, 1), owned);
                MemorySegment o = alloc(d, ProcessGroup.chunk(len, n, r).length(), owned);
                g.reduceScatter(in, o, op);
                out.put("reduceScatter " + op + " " + len, read(o));
                out.put("reduceScatter input " + op + " " + len, read(in));
            }
            MemorySegment gathered = alloc(d, len, owned);
            g.allGather(put(d, values(r, (int) ProcessGroup.chunk(len, n, r).length(), 2), owned), gathered);
            out.put("allGather " + len, read(gathered));

            MemorySegment b = put(d, values(r, len, 3), owned);
            g.broadcast(b, len % n);
            out.put("broadcast " + len, read(b));

            MemorySegment a2aOut = alloc(d, (long) len * n, owned);
            g.allToAll(put(d, values(r, len * n, 4), owned), a2aOut);
            out.put("allToAll " + len, read(a2aOut));

            // Point-to-point: a ring shift, both directions posted before either receive.
            MemorySegment right = alloc(d, len, owned);
            MemorySegment left = alloc(d, len, owned);
            g.send(put(d, values(r, len, 5), owned), (r + 1) % n, 2 * len);
            g.send(put(d, values(r, len, 6), owned), (r - 1 + n) % n, 2 * len + 1);
            g.recv(left, (r - 1 + n) % n, 2 * len);
            g.recv(right, (r + 1) % n, 2 * len + 1);
            out.put("send right " + len, read(left));
            out.put("send left " + len, read(right));
            freeAll(owned);
        }

        // Async forms, overlapping one another and a blocking collective issued after them.
        MemorySegment ar = put(d, values(r, LARGE, 7), owned);
        MemorySegment rsIn = put(d, values(r, LARGE, 8), owned);
        MemorySegment rsOut = alloc(d, ProcessGroup.chunk(LARGE, n, r).length(), owned);
        MemorySegment agIn = put(d, values(r, (int) ProcessGroup.chunk(LARGE, n, r).length(), 9), owned);
        MemorySegment agOut = alloc(d, LARGE, owned);
        CommHandle h1 = g.allReduceAsync(ar, ReduceOp.SUM);
        CommHandle h2 = g.reduceScatterAsync(rsIn, rsOut);
        CommHandle h3 = g.allGatherAsync(agIn, agOut);
        MemorySegment bc = put(d, values(r, LARGE, 10), owned);
        g.broadcast(bc, n - 1);
        h3.await();
        h2.await();
        h1.await();
        out.put("async allReduce", read(ar));
        out.put("async reduceScatter", read(rsOut));
        out.put("async allGather", read(agOut));
        out.put("broadcast during async", read(bc));

        // In place: reduce-scatter into my chunk of the input, all-gather from my chunk of the output.
        ProcessGroup.Chunk mine = ProcessGroup.chunk(LARGE, n, r);
        MemorySegment rsBuf = put(d, values(r, LARGE, 11), owned);
        g.reduceScatter(rsBuf, rsBuf.asSlice(mine.start() * 4, mine.length() * 4));
        out.put("in-place reduceScatter", read(rsBuf.asSlice(mine.start() * 4, mine.length() * 4)));
        MemorySegment agBuf = alloc(d, LARGE, owned);
        MemorySegment.copy(values(r, (int) mine.length(), 12), 0, agBuf, java.lang.foreign.ValueLayout.JAVA_FLOAT, mine.start() * 4, (int) mine.length());
        g.allGather(agBuf.asSlice(mine.start() * 4, mine.length() * 4), agBuf);
        out.put("in-place allGather", read(agBuf));

        // Barrier: nobody leaves before everybody has arrived.
        arrived.incrementAndGet();
        g.barrier();
        out.put("arrivals seen after barrier", new float[] {arrived.get()});
        freeAll(owned);
        return out;
    }

    private static void checkLength(List<Map<String, float[]>> out, int n, int len) {
        float[][] x = new float[n][];
        for (int r = 0; r < n; r++) x[r] = values(r, len, 1);
        for (ReduceOp op : ReduceOp.values()) {
            float[] expected = ringReduce(x, op);
            for (int r = 0; r < n; r++) {
                assertArrayEquals(expected, out.get(r).get("allReduce " + op + " " + len),
                        "allReduce " + op + " of " + len + " floats on " + n + " members, rank " + r);
                ProcessGroup.Chunk c = ProcessGroup.chunk(len, n, r);
                assertArrayEquals(slice(expected, c), out.get(r).get("reduceScatter " + op + " " + len),
                        "reduceScatter " + op + " of " + len + " floats on " + n + " members, rank " + r);
                assertArrayEquals(x[r], out.get(r).get("reduceScatter input " + op + " " + len),
                        "reduceScatter must not modify its input (" + len + " floats, rank " + r + ")");
            }
        }
        float[] gathered = new float[len];
        for (int r = 0; r < n; r++) {
            ProcessGroup.Chunk c = ProcessGroup.chunk(len, n, r);
            System.arraycopy(values(r, (int) c.length(), 2), 0, gathered, (int) c.start(), (int) c.length());
        }
        float[] root = values(len % n, len, 3);
        for (int r = 0; r < n; r++) {
            assertArrayEquals(gathered, out.get(r).get("allGather " + len), "allGather of " + len + " floats on " + n + " members, rank " + r);
            assertArrayEquals(root, out.get(r).get("broadcast " + len), "broadcast of " + len + " floats from " + (len % n) + ", rank " + r);
            float[] a2a = new float[len * n];
            for (int src = 0; src < n; src++) System.arraycopy(values(src, len * n, 4), r * len, a2a, src * len, len);
            assertArrayEquals(a2a, out.get(r).get("allToAll " + len), "allToAll of " + n + " x " + len + " floats, rank " + r);
            assertArrayEquals(values((r - 1 + n) % n, len, 5), out.get(r).get("send right " + len), "message from the left neighbour, rank " + r);
            assertArrayEquals(values((r + 1) % n, len, 6), out.get(r).get("send left " + len), "message from the right neighbour, rank " + r);
        }
    }

    private static void checkAsyncAndInPlace(List<Map<String, float[]>> out, int n) {
        float[] allReduce = ringReduce(inputs(n, LARGE, 7), ReduceOp.SUM);
        float[] reduceScatter = ringReduce(inputs(n, LARGE, 8), ReduceOp.SUM);
        float[] inPlace = ringReduce(inputs(n, LARGE, 11), ReduceOp.SUM);
        float[] gathered = new float[LARGE];
        float[] gathered12 = new float[LARGE];
        for (int r = 0; r < n; r++) {
            ProcessGroup.Chunk c = ProcessGroup.chunk(LARGE, n, r);
            System.arraycopy(values(r, (int) c.length(), 9), 0, gathered, (int) c.start(), (int) c.length());
            System.arraycopy(values(r, (int) c.length(), 12), 0, gathered12, (int) c.start(), (int) c.length());
        }
        for (int r = 0; r < n; r++) {
            ProcessGroup.Chunk c = ProcessGroup.chunk(LARGE, n, r);
            Map<String, float[]> o = out.get(r);
            assertArrayEquals(allReduce, o.get("async allReduce"), "allReduceAsync, rank " + r);
            assertArrayEquals(slice(reduceScatter, c), o.get("async reduceScatter"), "reduceScatterAsync, rank " + r);
            assertArrayEquals(gathered, o.get("async allGather"), "allGatherAsync, rank " + r);
            assertArrayEquals(values(n - 1, LARGE, 10), o.get("broadcast during async"), "broadcast issued behind async collectives, rank " + r);
            assertArrayEquals(slice(inPlace, c), o.get("in-place reduceScatter"), "in-place reduceScatter, rank " + r);
            assertArrayEquals(gathered12, o.get("in-place allGather"), "in-place allGather, rank " + r);
            assertEquals(n, o.get("arrivals seen after barrier")[0], "rank " + r + " left the barrier before every member arrived");
        }
    }

    private static float[][] inputs(int n, int len, int salt) {
        float[][] x = new float[n][];
        for (int r = 0; r < n; r++) x[r] = values(r, len, salt);
        return x;
    }

    /** The sequential reference: chunk k reduced in ring order x[k+1], x[k+2], ..., x[k]; AVG divides the sum by n. */
    static float[] ringReduce(float[][] x, ReduceOp op) {
        int n = x.length;
        int len = x[0].length;
        float[] out = new float[len];
        for (int k = 0; k < n; k++) {
            ProcessGroup.Chunk c = ProcessGroup.chunk(len, n, k);
            for (int e = (int) c.start(); e < c.end(); e++) {
                float acc = x[(k + 1) % n][e];
                for (int j = 2; j <= n; j++) {
                    float v = x[(k + j) % n][e];
                    acc = op == ReduceOp.MAX ? Math.max(acc, v) : acc + v;
                }
                out[e] = op == ReduceOp.AVG ? acc / n : acc;
            }
        }
        return out;
    }

    private static float[] slice(float[] a, ProcessGroup.Chunk c) {
        float[] s = new float[(int) c.length()];
        System.arraycopy(a, (int) c.start(), s, 0, s.length);
        return s;
    }
}
