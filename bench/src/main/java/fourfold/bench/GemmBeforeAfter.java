package fourfold.bench;

import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * Two builds of the GEMM in one JVM, alternated: each benchmarks.jar is loaded by its own class
 * loader (its own Gemm, Device and JIT-compiled code), and the two run in turn for {@code seconds}
 * each, for {@code rounds} rounds, on the same operands. On a machine whose speed drifts, the
 * per-round ratio is what a before/after comparison can trust; separate runs minutes apart are not.
 *
 * <pre>
 * scripts/bench/gemm-before-after.sh BEFORE.jar AFTER.jar CASE...   (CASE as GemmBench: nn_1024_1024_1024_t1)
 * </pre>
 * Prints per case the median GFLOP/s of each build, the median after/before ratio with its
 * quartiles, and whether the two results are bitwise equal.
 */
public final class GemmBeforeAfter {
    private GemmBeforeAfter() {}

    /** One build's {@code Gemm.gemm} and a device of the case's worker count. */
    private record Build(MethodHandle gemm, Object device) {
        static Build load(String jar, int threads) throws Exception {
            ClassLoader loader = new URLClassLoader(new URL[] {new File(jar).toURI().toURL()}, ClassLoader.getPlatformClassLoader());
            Class<?> device = loader.loadClass("fourfold.devices.Device");
            Class<?> gemm = loader.loadClass("fourfold.engine.kernels.Gemm");
            MethodType type = MethodType.methodType(void.class, device, boolean.class, boolean.class, int.class, int.class, int.class,
                    MemorySegment.class, long.class, int.class, MemorySegment.class, long.class, int.class,
                    MemorySegment.class, long.class, int.class, boolean.class);
            // The device memory looks up Chronicle's services through the context loader: give it this build's.
            Thread me = Thread.currentThread();
            ClassLoader previous = me.getContextClassLoader();
            me.setContextClassLoader(loader);
            Object d;
            try {
                d = device.getConstructor(int.class, long.class, int.class).newInstance(0, 1L << 20, threads);
            } finally {
                me.setContextClassLoader(previous);
            }
            return new Build(MethodHandles.publicLookup().findStatic(gemm, "gemm", type), d);
        }
    }

    public static void main(String[] args) throws Throwable {
        if (args.length < 3) {
            System.err.println("usage: GemmBeforeAfter BEFORE.jar AFTER.jar CASE...  (e.g. nn_1024_1024_1024_t1; -Dseconds=0.5 -Drounds=20)");
            System.exit(2);
        }
        double seconds = Double.parseDouble(System.getProperty("seconds", "0.5"));
        int rounds = Integer.getInteger("rounds", 20);
        System.out.println("| case | before GFLOP/s | after GFLOP/s | after / before (median) | q1..q3 | rounds | same result |");
        System.out.println("|---|---|---|---|---|---|---|");
        for (int i = 2; i < args.length; i++) {
            String[] p = args[i].split("_");
            boolean transA = p[0].charAt(0) == 't', transB = p[0].charAt(1) == 't';
            int M = Integer.parseInt(p[1]), N = Integer.parseInt(p[2]), K = Integer.parseInt(p[3]);
            int threads = Integer.parseInt(p[4].substring(1));
            Build[] builds = {Build.load(args[0], threads), Build.load(args[1], threads)};
            Arena arena = Arena.ofShared();
            MemorySegment a = random(arena, (long) M * K, 1), b = random(arena, (long) K * N, 2);
            MemorySegment[] c = {arena.allocate((long) M * N * Float.BYTES, 64), arena.allocate((long) M * N * Float.BYTES, 64)};
            int lda = transA ? M : K, ldb = transB ? K : N;
            double[][] gflops = new double[2][rounds];
            for (int r = -3; r < rounds; r++) { // three rounds of warm-up
                for (int turn = 0; turn < 2; turn++) {
                    int v = (r & 1) == 0 ? turn : 1 - turn; // alternate which build goes first
                    long t0 = System.nanoTime(), calls = 0;
                    while (System.nanoTime() - t0 < seconds * 1e9) {
                        builds[v].gemm().invoke(builds[v].device(), transA, transB, M, N, K, a, 0L, lda, b, 0L, ldb, c[v], 0L, N, false);
                        calls++;
                    }
                    if (r >= 0) gflops[v][r] = 2.0 * M * N * K * calls / (System.nanoTime() - t0);
                }
            }
            double[] ratio = new double[rounds];
            for (int r = 0; r < rounds; r++) ratio[r] = gflops[1][r] / gflops[0][r];
            System.out.printf(Locale.ROOT, "| %s | %.1f | %.1f | %.2f | %.2f..%.2f | %d | %s |%n", args[i], median(gflops[0]), median(gflops[1]),
                    median(ratio), quantile(ratio, 0.25), quantile(ratio, 0.75), rounds, c[0].mismatch(c[1]) == -1 ? "bitwise" : "no");
        }
        System.exit(0); // the builds' worker threads are daemons, but do not wait for them
    }

    private static MemorySegment random(Arena arena, long floats, long seed) {
        MemorySegment s = arena.allocate(floats * Float.BYTES, 64);
        Random r = new Random(seed);
        for (long i = 0; i < floats; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, r.nextFloat() - 0.5f);
        return s;
    }

    private static double median(double[] v) {
        return quantile(v, 0.5);
    }

    private static double quantile(double[] v, double q) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[(int) (q * (s.length - 1) + 0.5)];
    }
}
