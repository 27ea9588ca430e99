package fourfold.bench;

import fourfold.devices.Axis;
import fourfold.devices.Bytes;
import fourfold.devices.Cluster;
import fourfold.devices.ClusterConfig;
import fourfold.devices.DeviceMemory;
import fourfold.devices.MemoryTag;
import fourfold.devices.Mesh;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.ReduceOp;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.Collection;
import java.util.Locale;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

/**
 * In-process all-reduce (AVG, float32) across 2, 4 and 8 devices with one worker thread each, by
 * each algorithm ({@code auto}, {@code ring}, {@code oneshot}, {@code twoshot}: what
 * {@code -Dfourfold.comm.algorithm} forces), next to a single-thread memcpy of 64 MiB measured in
 * the same run.
 *
 * <p>Bandwidths as nccl-tests defines them: algbw = S / t, busbw = algbw * 2(n-1)/n (the bytes
 * each rank must move, so busbw is comparable across n). Run {@link #main} to get them printed:
 * <pre>
 * java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar \
 *      fourfold.bench.AllReduceBench [JMH options]
 * </pre>
 * The small messages, where the algorithms differ, at 8 ranks:
 * {@code -p devices=8 -p size=4k,64k,256k,1m}. {@code auto} follows the thresholds of the forked
 * JVM: set them with {@code -jvmArgsAppend -Dfourfold.comm.twoShotBytes=...}.
 * Each rank's driver thread stays inside one {@code Cluster.run} for the whole trial and waits
 * at a barrier between operations, so thread start-up is not measured; the barrier hand-off is.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 2) // 8 ranks on a few cores need ~5 s before the Vector API reduction is compiled
@Measurement(iterations = 5, time = 2)
// CICompilerCount=4: with more devices than cores the rank threads starve the JIT (see ./fourfold)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow", "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
        "-Dchronicle.analytics.disable=true", "-XX:CICompilerCount=4", "-Xmx2g"})
public class AllReduceBench {
    static final long MIB = 1 << 20;

    /** A cluster whose ranks run one all-reduce each time the benchmark thread releases them. */
    @State(Scope.Benchmark)
    public static class Ring {
        @Param({"2", "4", "8"})
        public int devices;
        /** Buffer size: bytes, or with a k, m or g suffix. */
        @Param({"1m", "64m"})
        public String size;
        @Param({"auto", "ring", "oneshot", "twoshot"})
        public String algorithm;

        Cluster cluster;
        CyclicBarrier start;
        CyclicBarrier done;
        volatile boolean stop;
        Thread launcher;

        @Setup(Level.Trial)
        public void setup() {
            long bytes = Bytes.parse(size);
            System.setProperty("fourfold.comm.algorithm", algorithm); // read when the cluster's interconnect is made; this fork runs one trial
            cluster = new Cluster(new Mesh(devices, 1, 1, 1), ClusterConfig.defaults()
                    .withMemoryPerDevice(bytes + 16 * MIB).withThreadsPerDevice(1).withCollectiveTimeout(Duration.ofMinutes(10)));
            start = new CyclicBarrier(devices + 1);
            done = new CyclicBarrier(devices + 1);
            launcher = Thread.ofPlatform().name("bench-launcher").start(() -> cluster.run(rank -> {
                ProcessGroup dp = rank.group(Axis.DP);
                try (DeviceMemory.Block buf = rank.device().memory().allocate(bytes, MemoryTag.GRADS, "buffer")) {
                    MemorySegment s = buf.segment();
                    for (long i = 0; i < bytes / 4; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, 1e-3f * (i % 1000)); // finite, no denormals
                    while (true) {
                        start.await();
                        if (stop) return null;
                        dp.allReduce(s, ReduceOp.AVG); // AVG keeps values bounded over many iterations
                        done.await();
                    }
                } catch (Exception e) {
                    start.reset(); // release the benchmark thread
                    done.reset();
                    throw e;
                }
            }));
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception {
            stop = true;
            start.await();
            launcher.join();
            cluster.close();
        }
    }

    /** Two 64 MiB native buffers for the memcpy reference. */
    @State(Scope.Benchmark)
    public static class Copy {
        MemorySegment src;
        MemorySegment dst;

        @Setup(Level.Trial)
        public void setup() {
            src = Arena.global().allocate(64 * MIB, 64);
            dst = Arena.global().allocate(64 * MIB, 64);
            src.fill((byte) 1);
            dst.fill((byte) 2);
        }
    }

    @Benchmark
    public void allReduce(Ring r) throws Exception {
        r.start.await(10, TimeUnit.MINUTES); // a failed cluster run breaks the barrier instead of hanging
        r.done.await(10, TimeUnit.MINUTES);
    }

    /** One thread copying 64 MiB between two native buffers: the reference bandwidth (bytes copied / time). */
    @Benchmark
    public void memcpy64MiB(Copy c) {
        MemorySegment.copy(c.src, 0, c.dst, 0, c.dst.byteSize());
    }

    /**
     * Runs memcpy, then the all-reduces, then memcpy again (JMH options may be passed), and prints
     * algbw, busbw and busbw / memcpy, medians of the iterations, memcpy being the mean of the two runs that bracket the
     * all-reduces (on a shared machine the host's bandwidth drifts during a long run).
     */
    public static void main(String[] args) throws Exception {
        var cli = new CommandLineOptions(args);
        String name = AllReduceBench.class.getName();
        double before = memcpyGBps(new Runner(new OptionsBuilder().parent(cli).include(name + "\\.memcpy64MiB").build()).run());
        Collection<RunResult> results = new Runner(new OptionsBuilder().parent(cli).include(name + "\\.allReduce").build()).run();
        double after = memcpyGBps(new Runner(new OptionsBuilder().parent(cli).include(name + "\\.memcpy64MiB").build()).run());
        double memcpy = (before + after) / 2;
        System.out.printf(Locale.ROOT, "%nmemcpy 64 MiB, 1 thread: %.2f GB/s before, %.2f GB/s after the all-reduces, mean %.2f GB/s%n", before, after, memcpy);
        System.out.printf(Locale.ROOT, "%-8s %-10s %-9s %14s %12s %12s %16s%n", "devices", "size", "algorithm", "median ms/op", "algbw GB/s", "busbw GB/s", "busbw / memcpy");
        for (RunResult r : results) {
            int n = Integer.parseInt(r.getParams().getParam("devices"));
            long bytes = Bytes.parse(r.getParams().getParam("size"));
            double ms = median(r);
            double algbw = bytes / (ms * 1e-3) / 1e9;
            double busbw = algbw * 2 * (n - 1) / n;
            System.out.printf(Locale.ROOT, "%-8d %-10s %-9s %14.4f %12.2f %12.2f %15.0f%%%n", n, Bytes.format(bytes), r.getParams().getParam("algorithm"),
                    ms, algbw, busbw, 100 * busbw / memcpy);
        }
    }

    private static double memcpyGBps(Collection<RunResult> results) {
        return 64 * MIB / (median(results.iterator().next()) * 1e-3) / 1e9;
    }

    /** Median of the measurement iterations (ms/op): robust to the spikes of a shared machine. */
    private static double median(RunResult r) {
        return r.getPrimaryResult().getStatistics().getPercentile(50);
    }
}
