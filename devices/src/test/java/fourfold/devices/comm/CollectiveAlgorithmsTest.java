package fourfold.devices.comm;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import fourfold.devices.Axis;
import fourfold.devices.Cluster;
import fourfold.devices.ClusterAbortedException;
import fourfold.devices.ClusterConfig;
import fourfold.devices.ClusterException;
import fourfold.devices.Device;
import fourfold.devices.DeviceMemory;
import fourfold.devices.HardwareProfile;
import fourfold.devices.Hosting;
import fourfold.devices.Mesh;
import fourfold.devices.Rank;
import fourfold.devices.SimClock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static fourfold.devices.TestBuffers.alloc;
import static fourfold.devices.TestBuffers.freeAll;
import static fourfold.devices.TestBuffers.put;
import static fourfold.devices.TestBuffers.read;
import static fourfold.devices.TestBuffers.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The direct algorithms (one-shot and two-shot all-reduce, direct reduce-scatter and all-gather)
 * against the ring, which stays the reference: the same program on the same group, once per
 * algorithm, must give bit for bit the ring's outputs, the ring's simulated time after every call
 * (exactly, not within a tolerance) and the ring's byte counts. The ring's own outputs are checked
 * against a double-precision sum within the float32 rounding bound, so the comparison cannot pass
 * with the ring wrong too.
 *
 * <p>Members start each call at different simulated times and the profile puts three devices per
 * node, so the ring's step-time recurrence sees late members and two kinds of link. The slice is
 * 1027 floats: the staging block (4 slices at most) is smaller than the larger buffers, so one-shot
 * takes several rounds and two-shot reduces its chunk in pieces. Counts include 0, 1, fewer floats
 * than members (empty chunks) and primes.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES) // a hang guard: a lost wake-up fails here instead of stalling the build
class CollectiveAlgorithmsTest {
    static final int[] COUNTS = {0, 1, 3, 7, 1031, 10_007};
    static final HardwareProfile PROFILE = HardwareProfile.H100_NVLINK_IB.withDevicesPerNode(3);
    /** A collective timeout no working run reaches, even on a busy host. */
    static final Duration NEVER = Duration.ofSeconds(60);
    /** Auto with thresholds among the counts: up to 7 floats one-shot, up to 1031 two-shot / direct, 10,007 by the ring. */
    static final AlgorithmChoice STRADDLING = new AlgorithmChoice(null, 7 * Float.BYTES, 1031 * Float.BYTES);

    @TempDir
    Path dir;

    static Cluster cluster(int n, AlgorithmChoice choice, Duration timeout) {
        ClusterConfig config = ClusterConfig.defaults().withMemoryPerDevice(16L << 20).withThreadsPerDevice(1).withProfile(PROFILE)
                .withCollectiveTimeout(timeout).withSliceBytes(1027 * Float.BYTES).withTrace(true);
        return new Cluster(new Mesh(n, 1, 1, 1), config, new Hosting() {
            @Override
            public boolean hosts(int rank) {
                return true;
            }

            @Override
            public Network network(Mesh mesh, List<Device> devices, fourfold.devices.Topology topology, CommStats stats,
                                   fourfold.devices.trace.Trace trace, long sliceBytes) {
                return new Interconnect(devices, topology, stats, trace, sliceBytes, choice);
            }
        });
    }

    /** What one rank saw: each call's output and the simulated time right after it, by call name. */
    record Outcome(Map<String, float[]> outputs, Map<String, Double> times) {}

    /** What a whole run gave: every rank's outcome, the byte counts, and the algorithm of every call by name. */
    record Run(List<Outcome> ranks, List<CommStats.Entry> bytes, Map<String, String> algorithms) {}

    Run run(int n, AlgorithmChoice choice) throws Exception {
        try (Cluster c = cluster(n, choice, NEVER)) {
            List<Outcome> ranks = c.run(CollectiveAlgorithmsTest::program);
            for (int r = 0; r < n; r++) assertEquals(0, c.device(r).memory().inUse(), "rank " + r + " device memory in use after the run");
            return new Run(ranks, c.stats().entries(), algorithms(c));
        }
    }

    /** Every collective, sync and async, for every count and reduce op; each call starts at a rank-dependent simulated time. */
    static Outcome program(Rank rank) {
        ProcessGroup g = rank.group(Axis.DP);
        Device d = rank.device();
        SimClock clock = d.clock();
        int n = g.size();
        int r = g.rank();
        Map<String, float[]> out = new LinkedHashMap<>();
        Map<String, Double> times = new LinkedHashMap<>();
        List<DeviceMemory.Block> owned = new ArrayList<>();
        int call = 0;
        for (int len : COUNTS) {
            int mine = (int) ProcessGroup.chunk(len, n, r).length();
            for (boolean async : new boolean[] {false, true}) {
                String how = async ? " async" : "";
                for (ReduceOp op : ReduceOp.values()) {
                    clock.advanceBy(1e-6 * ((r * 7 + call++) % 5)); // late members, a different one each call
                    MemorySegment b = put(d, values(r, len, 1), owned);
                    if (async) g.allReduceAsync(b, op).await();
                    else g.allReduce(b, op);
                    out.put("allReduce" + how + " " + op + " " + len, read(b));
                    times.put("allReduce" + how + " " + op + " " + len, clock.now());

                    clock.advanceBy(1e-6 * ((r * 7 + call++) % 5));
                    MemorySegment in = put(d, values(r, len, 2), owned);
                    MemorySegment o = alloc(d, mine, owned);
                    if (async) g.reduceScatterAsync(in, o, op).await();
                    else g.reduceScatter(in, o, op);
                    out.put("reduceScatter" + how + " " + op + " " + len, read(o));
                    out.put("reduceScatter" + how + " input " + op + " " + len, read(in));
                    times.put("reduceScatter" + how + " " + op + " " + len, clock.now());
                }
                clock.advanceBy(1e-6 * ((r * 7 + call++) % 5));
                MemorySegment gathered = alloc(d, len, owned);
                MemorySegment part = put(d, values(r, mine, 3), owned);
                if (async) g.allGatherAsync(part, gathered).await();
                else g.allGather(part, gathered);
                out.put("allGather" + how + " " + len, read(gathered));
                times.put("allGather" + how + " " + len, clock.now());
            }
            // In place: reduce-scatter into my chunk of the input, all-gather from my chunk of the output.
            ProcessGroup.Chunk c = ProcessGroup.chunk(len, n, r);
            MemorySegment rs = put(d, values(r, len, 2), owned);
            MemorySegment rsOut = rs.asSlice(c.start() * Float.BYTES, c.length() * Float.BYTES);
            g.reduceScatter(rs, rsOut);
            out.put("reduceScatter in place " + len, read(rsOut));
            MemorySegment ag = alloc(d, len, owned);
            MemorySegment agIn = ag.asSlice(c.start() * Float.BYTES, c.length() * Float.BYTES);
            MemorySegment.copy(MemorySegment.ofArray(values(r, mine, 3)), 0, agIn, 0, agIn.byteSize());
            g.allGather(agIn, ag);
            out.put("allGather in place " + len, read(ag));
            times.put("in place " + len, clock.now());
            freeAll(owned);
        }
        return new Outcome(out, times);
    }

    @ParameterizedTest(name = "{0} members")
    @ValueSource(ints = {2, 3, 4, 5, 6, 7, 8})
    void everyAlgorithmGivesTheRingsBitsTimesAndBytes(int n) throws Exception {
        Run ring = run(n, AlgorithmChoice.forced(CollectiveAlgorithm.RING));
        checkAgainstDoubleReference(ring, n);
        Map<String, AlgorithmChoice> others = new LinkedHashMap<>();
        others.put("one-shot", AlgorithmChoice.forced(CollectiveAlgorithm.ONE_SHOT));
        others.put("two-shot", AlgorithmChoice.forced(CollectiveAlgorithm.TWO_SHOT));
        others.put("auto straddling the counts", STRADDLING);
        for (var e : others.entrySet()) {
            Run other = run(n, e.getValue());
            String what = e.getKey() + " on " + n + " members";
            for (int r = 0; r < n; r++) {
                Outcome ref = ring.ranks().get(r), got = other.ranks().get(r);
                assertEquals(ref.outputs().keySet(), got.outputs().keySet());
                for (String call : ref.outputs().keySet()) {
                    assertArrayEquals(ref.outputs().get(call), got.outputs().get(call), what + ": " + call + ", rank " + r + " differs from the ring's bits");
                }
                for (String call : ref.times().keySet()) {
                    assertEquals(ref.times().get(call), got.times().get(call), 0.0,
                            what + ": simulated time after " + call + ", rank " + r + " differs from the ring's");
                }
            }
            assertEquals(ring.bytes(), other.bytes(), what + ": bytes per rank, group and kind against the ring's");
            assertRanAsAsked(other.algorithms(), e.getValue(), what);
        }
        ring.algorithms().forEach((call, a) -> assertEquals("ring", a, "forced ring: " + call));
    }

    /** The trace names the algorithm each call took; a forced choice must have been taken for every size. */
    private static void assertRanAsAsked(Map<String, String> algorithms, AlgorithmChoice choice, String what) {
        assertTrue(!algorithms.isEmpty(), what + ": no collective spans in the trace");
        algorithms.forEach((call, a) -> {
            long bytes = Long.parseLong(call.substring(call.lastIndexOf(' ') + 1)) * Float.BYTES;
            CollectiveAlgorithm expected = call.startsWith("allReduce") ? choice.allReduce(bytes) : choice.scatterOrGather(bytes);
            assertEquals(expected.label(), a, what + ": algorithm of " + call);
        });
    }

    /**
     * The ring's outputs against sums in double precision: within (n-1) float32 roundings of the
     * sum of magnitudes for SUM and AVG, exact for MAX; reduce-scatter is the member's chunk of
     * that, all-gather the members' chunks side by side, and inputs stay untouched.
     */
    private static void checkAgainstDoubleReference(Run ring, int n) {
        for (int len : COUNTS) {
            for (String how : new String[] {"", " async"}) {
                for (ReduceOp op : ReduceOp.values()) {
                    float[][] ar = inputs(n, len, 1), rs = inputs(n, len, 2);
                    for (int r = 0; r < n; r++) {
                        Map<String, float[]> o = ring.ranks().get(r).outputs();
                        ProcessGroup.Chunk c = ProcessGroup.chunk(len, n, r);
                        assertNear(ar, op, 0, len, o.get("allReduce" + how + " " + op + " " + len), "allReduce" + how + " " + op + " of " + len + " on " + n + ", rank " + r);
                        assertNear(rs, op, (int) c.start(), (int) c.length(), o.get("reduceScatter" + how + " " + op + " " + len),
                                "reduceScatter" + how + " " + op + " of " + len + " on " + n + ", rank " + r);
                        assertArrayEquals(rs[r], o.get("reduceScatter" + how + " input " + op + " " + len), "reduceScatter must not modify its input, rank " + r);
                    }
                }
                float[] gathered = gathered(n, len);
                for (int r = 0; r < n; r++) {
                    assertArrayEquals(gathered, ring.ranks().get(r).outputs().get("allGather" + how + " " + len), "allGather" + how + " of " + len + " on " + n + ", rank " + r);
                }
            }
            for (int r = 0; r < n; r++) {
                assertArrayEquals(gathered(n, len), ring.ranks().get(r).outputs().get("allGather in place " + len), "in-place allGather, rank " + r);
                ProcessGroup.Chunk c = ProcessGroup.chunk(len, n, r);
                assertNear(inputs(n, len, 2), ReduceOp.SUM, (int) c.start(), (int) c.length(), ring.ranks().get(r).outputs().get("reduceScatter in place " + len),
                        "in-place reduceScatter of " + len + " on " + n + ", rank " + r);
            }
        }
    }

    private static void assertNear(float[][] x, ReduceOp op, int start, int length, float[] actual, String what) {
        assertEquals(length, actual.length, what + ": length");
        int n = x.length;
        for (int e = 0; e < length; e++) {
            double sum = 0, magnitude = 0, max = Double.NEGATIVE_INFINITY;
            for (float[] v : x) {
                sum += v[start + e];
                magnitude += Math.abs(v[start + e]);
                max = Math.max(max, v[start + e]);
            }
            double expected = switch (op) {
                case SUM -> sum;
                case AVG -> sum / n;
                case MAX -> max;
            };
            double tolerance = op == ReduceOp.MAX ? 0 : n * 0x1p-24 * magnitude / (op == ReduceOp.AVG ? n : 1);
            assertEquals(expected, actual[e], tolerance, what + ": element " + (start + e));
        }
    }

    private static float[][] inputs(int n, int len, int salt) {
        float[][] x = new float[n][];
        for (int r = 0; r < n; r++) x[r] = values(r, len, salt);
        return x;
    }

    private static float[] gathered(int n, int len) {
        float[] g = new float[len];
        for (int r = 0; r < n; r++) {
            ProcessGroup.Chunk c = ProcessGroup.chunk(len, n, r);
            System.arraycopy(values(r, (int) c.length(), 3), 0, g, (int) c.start(), (int) c.length());
        }
        return g;
    }

    /** The algorithm of every all-reduce, reduce-scatter and all-gather span of rank 0, by "kind count" (the same for every call of that kind and count). */
    private Map<String, String> algorithms(Cluster c) throws Exception {
        Path file = Files.createTempFile(dir, "trace", ".json");
        c.trace().write(file);
        Map<String, String> byCall = new TreeMap<>();
        for (JsonElement el : JsonParser.parseString(Files.readString(file)).getAsJsonObject().getAsJsonArray("traceEvents")) {
            JsonObject e = el.getAsJsonObject();
            if (!e.get("ph").getAsString().equals("X") || e.get("pid").getAsInt() != 0 || !e.has("args")) continue;
            JsonObject args = e.getAsJsonObject("args");
            if (!args.has("algorithm")) continue;
            String call = e.get("name").getAsString().split(" ")[0] + " " + args.get("count").getAsLong();
            String a = args.get("algorithm").getAsString();
            String before = byCall.put(call, a);
            assertTrue(before == null || before.equals(a), call + " took " + before + " and " + a);
        }
        return byCall;
    }

    @Test
    void autoChoosesBySizeAndTheTraceSaysWhichRan() throws Exception {
        AlgorithmChoice auto = new AlgorithmChoice(null, 64, 4096);
        try (Cluster c = cluster(4, auto, NEVER)) {
            int[] counts = {16, 17, 1024, 1025};
            c.run(rank -> {
                ProcessGroup g = rank.group(Axis.DP);
                List<DeviceMemory.Block> owned = new ArrayList<>();
                for (int len : counts) {
                    g.allReduce(alloc(rank.device(), len, owned), ReduceOp.SUM);
                    g.reduceScatter(alloc(rank.device(), len, owned), alloc(rank.device(), ProcessGroup.chunk(len, 4, g.rank()).length(), owned));
                    g.allGatherAsync(alloc(rank.device(), ProcessGroup.chunk(len, 4, g.rank()).length(), owned), alloc(rank.device(), len, owned)).await();
                }
                freeAll(owned);
                return null;
            });
            Map<String, String> expected = new TreeMap<>(Map.ofEntries(
                    Map.entry("allReduce 16", "one-shot"), Map.entry("allReduce 17", "two-shot"),
                    Map.entry("allReduce 1024", "two-shot"), Map.entry("allReduce 1025", "ring"),
                    Map.entry("reduceScatter 16", "direct"), Map.entry("reduceScatter 17", "direct"),
                    Map.entry("reduceScatter 1024", "direct"), Map.entry("reduceScatter 1025", "ring"),
                    Map.entry("allGather 16", "direct"), Map.entry("allGather 17", "direct"),
                    Map.entry("allGather 1024", "direct"), Map.entry("allGather 1025", "ring")));
            assertEquals(expected, algorithms(c), "one-shot up to 64 bytes, two-shot (direct) up to 4096, the ring above, by the trace's algorithm argument");
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = CollectiveAlgorithm.class, names = {"ONE_SHOT", "TWO_SHOT"})
    void aMemberThatNeverJoinsMakesTheOthersTimeOutNamingIt(CollectiveAlgorithm forced) {
        for (String kind : List.of("allReduce", "reduceScatter", "allGather")) {
            try (Cluster c = cluster(4, AlgorithmChoice.forced(forced), Duration.ofMillis(300))) {
                ClusterException e = assertThrows(ClusterException.class, () -> c.run(rank -> {
                    if (rank.rank() == 3) return null; // forgets the collective
                    List<DeviceMemory.Block> owned = new ArrayList<>();
                    try {
                        ProcessGroup g = rank.group(Axis.DP);
                        MemorySegment full = alloc(rank.device(), 400, owned), part = alloc(rank.device(), 100, owned);
                        switch (kind) {
                            case "allReduce" -> g.allReduce(full, ReduceOp.SUM);
                            case "reduceScatter" -> g.reduceScatter(full, part);
                            default -> g.allGather(part, full);
                        }
                        return null;
                    } finally {
                        freeAll(owned);
                    }
                }));
                CollectiveTimeoutException t = assertInstanceOf(CollectiveTimeoutException.class, e.getCause(), kind + ": " + e.getCause());
                String msg = t.getMessage();
                assertTrue(msg.contains(kind + " #0 on group dp"), msg);
                assertTrue(msg.contains("for rank(s) [3] to join") && msg.contains("rank(s) [3] never joined"), msg);
                for (int r = 0; r < 4; r++) assertEquals(0, c.device(r).memory().inUse(), kind + ": memory left on rank " + r);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = CollectiveAlgorithm.class, names = {"ONE_SHOT", "TWO_SHOT"})
    void aFailingMemberAbortsTheOthersWaitingAtARendezvous(CollectiveAlgorithm forced) {
        try (Cluster c = cluster(4, AlgorithmChoice.forced(forced), NEVER)) {
            ClusterException e = assertThrows(ClusterException.class, () -> c.run(rank -> {
                List<DeviceMemory.Block> owned = new ArrayList<>();
                try {
                    MemorySegment buf = alloc(rank.device(), 1000, owned);
                    ProcessGroup g = rank.group(Axis.DP);
                    g.allReduce(buf, ReduceOp.SUM); // everyone joins once
                    if (rank.rank() == 1) throw new IllegalStateException("loss is NaN on rank 1");
                    g.allReduceAsync(buf, ReduceOp.SUM).await(); // the others wait for rank 1 at the first rendezvous
                    return null;
                } finally {
                    freeAll(owned);
                }
            }));
            assertEquals(1, e.failedRank());
            for (int r : new int[] {0, 2, 3}) {
                assertInstanceOf(ClusterAbortedException.class, e.rankFailures().get(r), "rank " + r + " must be ended by the abort, not by the collective timeout");
            }
            for (int r = 0; r < 4; r++) assertEquals(0, c.device(r).memory().inUse(), "memory left on rank " + r);
        }
    }

    @Test
    void badPropertyValuesAreOneLineErrorsNamingTheProperty() {
        assertEquals(new AlgorithmChoice(CollectiveAlgorithm.TWO_SHOT, 64 << 10, 0),
                AlgorithmChoice.of(Map.of("fourfold.comm.algorithm", "TwoShot", "fourfold.comm.oneShotBytes", "64k", "fourfold.comm.twoShotBytes", "0")::get));
        assertEquals(AlgorithmChoice.auto(), AlgorithmChoice.of(Map.<String, String>of()::get), "nothing set: auto with the default thresholds");
        Map<String, String> bad = Map.of(
                "fourfold.comm.algorithm", "-Dfourfold.comm.algorithm must be auto, ring, oneshot or twoshot, got 'fast'",
                "fourfold.comm.oneShotBytes", "-Dfourfold.comm.oneShotBytes must be a size in bytes such as 65536 or 64k (0 turns the algorithm off), got 'fast'",
                "fourfold.comm.twoShotBytes", "-Dfourfold.comm.twoShotBytes must be a size in bytes such as 65536 or 64k (0 turns the algorithm off), got 'fast'");
        bad.forEach((property, message) -> {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AlgorithmChoice.of(Map.of(property, "fast")::get));
            assertEquals(message + "; fix it in FOURFOLD_JAVA_OPTS or the JVM options", e.getMessage());
        });
        assertThrows(IllegalArgumentException.class, () -> AlgorithmChoice.of(Map.of("fourfold.comm.twoShotBytes", "-1")::get));
        AlgorithmChoice off = new AlgorithmChoice(null, 0, 0);
        assertEquals(CollectiveAlgorithm.RING, off.allReduce(0), "thresholds of 0 turn the direct algorithms off, for empty messages too");
        assertEquals(CollectiveAlgorithm.RING, off.scatterOrGather(4));
    }
}
