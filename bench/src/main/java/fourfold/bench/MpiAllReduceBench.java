package fourfold.bench;

import fourfold.devices.Axis;
import fourfold.devices.Cluster;
import fourfold.devices.ClusterConfig;
import fourfold.devices.DeviceMemory;
import fourfold.devices.MemoryTag;
import fourfold.devices.Mesh;
import fourfold.devices.Rank;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.ReduceOp;
import fourfold.devices.mpi.MpiHosting;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Locale;

/**
 * The ring all-reduce (SUM, float32) of fourfold's MPI group, one device per process, at 1 MiB
 * and 64 MiB: the same algorithm and summation order as the in-process group of
 * {@link AllReduceBench}, its messages through Open MPI. Not JMH: JMH forks its own JVM, which
 * mpirun did not start. Each iteration starts after a barrier; its time is the slowest process's.
 * Prints the median, algbw = S / t and busbw = algbw * 2(n-1)/n (nccl-tests' definitions).
 * <pre>
 * mpirun --allow-run-as-root --oversubscribe -np 4 java --add-modules=jdk.incubator.vector \
 *     --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar fourfold.bench.MpiAllReduceBench [ITERS_1MIB ITERS_64MIB]
 * </pre>
 */
public final class MpiAllReduceBench {
    private static final long MIB = 1 << 20;

    private MpiAllReduceBench() {}

    public static void main(String[] args) {
        int[] iterations = {args.length > 0 ? Integer.parseInt(args[0]) : 50, args.length > 1 ? Integer.parseInt(args[1]) : 10};
        long[] sizes = {MIB, 64 * MIB};
        try (MpiHosting mpi = MpiHosting.start()) {
            int n = mpi.worldSize();
            ClusterConfig config = ClusterConfig.defaults().withMemoryPerDevice(200 * MIB).withThreadsPerDevice(1);
            try (Cluster cluster = new Cluster(new Mesh(n, 1, 1, 1), config, mpi)) {
                cluster.run(rank -> {
                    for (int s = 0; s < sizes.length; s++) {
                        double[] seconds = measure(cluster, rank, sizes[s], iterations[s]);
                        if (mpi.worldRank() == 0) report(n, sizes[s], seconds);
                    }
                    return null;
                });
            }
        }
    }

    /** Slowest process's time of each iteration (after as many warm-up iterations, min 3). */
    private static double[] measure(Cluster cluster, Rank rank, long bytes, int iterations) {
        ProcessGroup g = rank.group(Axis.DP);
        try (DeviceMemory.Block b = rank.device().memory().allocate(bytes, MemoryTag.COMM, "all-reduce buffer")) {
            MemorySegment buf = b.segment().asSlice(0, bytes);
            for (long i = 0; i < bytes / Float.BYTES; i++) buf.setAtIndex(ValueLayout.JAVA_FLOAT, i, 1f / (g.rank() + 1));
            double[] seconds = new double[iterations];
            int warmup = Math.max(3, iterations);
            for (int it = -warmup; it < iterations; it++) {
                g.barrier();
                long t0 = System.nanoTime();
                g.allReduce(buf, ReduceOp.SUM);
                double t = (System.nanoTime() - t0) / 1e9;
                double slowest = cluster.maxOverProcesses(t)[0];
                if (it >= 0) seconds[it] = slowest;
            }
            return seconds;
        }
    }

    private static void report(int n, long bytes, double[] seconds) {
        double[] sorted = seconds.clone();
        Arrays.sort(sorted);
        double median = sorted[sorted.length / 2];
        double algbw = bytes / median / 1e9;
        System.out.printf(Locale.ROOT, "| MPI ring, %d processes | %d MiB | %.3f ms | %.2f GB/s | %.2f GB/s | %d |%n",
                n, bytes / MIB, median * 1e3, algbw, algbw * 2 * (n - 1) / n, seconds.length);
    }
}
