package fourfold.bench;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.engine.kernels.Gemm;
import fourfold.engine.tensor.Tensor;
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

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Gemm on one device: square problems on one worker, the Linear-layer shapes of the model
 * (M = 768 tokens, N and K in {128, 256, 384, 512}) in all three variants, and 1024^3 on two workers.
 *
 * <p>A case is {@code <variant>_<M>_<N>_<K>_t<workers>}: nn is C = A·B, nt is C = A·Bᵀ (forward),
 * tn is C = Aᵀ·B (weight gradient); C is overwritten. The score is microseconds per call;
 * GFLOP/s = 2·M·N·K / (score · 1000). {@code scripts/bench/gemm.sh} runs this and the OpenBLAS
 * reference ({@code scripts/bench/openblas_gemm.py}) on the same cases and prints both with ratios.
 *
 * <p>On a shared machine the two runs see different loads; {@link Interleaved} instead alternates
 * fourfold and OpenBLAS (cblas_sgemm through FFM) call by call on the same buffers and reports the
 * median of the per-pair ratios, which stays put when the load moves.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow", "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
        "-Dchronicle.analytics.disable=true", "-Xmx2g"})
public class GemmBench {
    @Param({
            "nn_512_512_512_t1", "nn_1024_1024_1024_t1",
            "nn_768_128_128_t1", "nn_768_128_256_t1", "nn_768_128_384_t1", "nn_768_128_512_t1",
            "nn_768_256_128_t1", "nn_768_256_256_t1", "nn_768_256_384_t1", "nn_768_256_512_t1",
            "nn_768_384_128_t1", "nn_768_384_256_t1", "nn_768_384_384_t1", "nn_768_384_512_t1",
            "nn_768_512_128_t1", "nn_768_512_256_t1", "nn_768_512_384_t1", "nn_768_512_512_t1",
            "nt_768_128_128_t1", "nt_768_128_256_t1", "nt_768_128_384_t1", "nt_768_128_512_t1",
            "nt_768_256_128_t1", "nt_768_256_256_t1", "nt_768_256_384_t1", "nt_768_256_512_t1",
            "nt_768_384_128_t1", "nt_768_384_256_t1", "nt_768_384_384_t1", "nt_768_384_512_t1",
            "nt_768_512_128_t1", "nt_768_512_256_t1", "nt_768_512_384_t1", "nt_768_512_512_t1",
            "tn_768_128_128_t1", "tn_768_128_256_t1", "tn_768_128_384_t1", "tn_768_128_512_t1",
            "tn_768_256_128_t1", "tn_768_256_256_t1", "tn_768_256_384_t1", "tn_768_256_512_t1",
            "tn_768_384_128_t1", "tn_768_384_256_t1", "tn_768_384_384_t1", "tn_768_384_512_t1",
            "tn_768_512_128_t1", "tn_768_512_256_t1", "tn_768_512_384_t1", "tn_768_512_512_t1",
            "nn_1024_1024_1024_t2",
    })
    public String shape;

    private Device device;
    private Tensor a;
    private Tensor b;
    private Tensor c;
    private String variant;

    @Setup(Level.Trial)
    public void setup() {
        String[] p = shape.split("_");
        variant = p[0];
        int m = Integer.parseInt(p[1]), n = Integer.parseInt(p[2]), k = Integer.parseInt(p[3]);
        int threads = Integer.parseInt(p[4].substring(1));
        long bytes = ((long) m * k + (long) k * n + (long) m * n) * Float.BYTES;
        device = new Device(0, bytes + (64L << 20), threads);
        // Stored shapes: nn A (M,K) B (K,N); nt A (M,K) B (N,K); tn A (K,M) B (K,N).
        a = random("A", variant.charAt(0) == 't' ? new int[] {k, m} : new int[] {m, k}, 1);
        b = random("B", variant.charAt(1) == 't' ? new int[] {n, k} : new int[] {k, n}, 2);
        c = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "C", m, n);
    }

    private Tensor random(String name, int[] shape, long seed) {
        Random r = new Random(seed);
        float[] v = new float[shape[0] * shape[1]];
        for (int i = 0; i < v.length; i++) v[i] = r.nextFloat() * 2 - 1;
        return Tensor.of(device, MemoryTag.ACTIVATIONS, name, v, shape);
    }

    @Benchmark
    public void gemm() {
        switch (variant) {
            case "nn" -> Gemm.nn(a, b, c, false);
            case "nt" -> Gemm.nt(a, b, c, false);
            case "tn" -> Gemm.tn(a, b, c, false);
            default -> throw new IllegalArgumentException("unknown variant " + variant);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        device.close();
    }

    /**
     * fourfold and OpenBLAS alternated on the same buffers, in one process:
     * {@code java --enable-native-access=ALL-UNNAMED --add-modules=jdk.incubator.vector
     * -cp bench/target/benchmarks.jar 'fourfold.bench.GemmBench$Interleaved' [-Dseconds=4] case...}
     * (cases as in {@link GemmBench}; default: all of them). For each pair of back-to-back batches
     * (about 40 MFLOP each) it takes fourfold's and OpenBLAS's GFLOP/s and their ratio, and prints
     * medians with the quartiles of the ratio. A case on 2 workers also alternates fourfold on 1
     * worker and prints that speed-up. OpenBLAS is libopenblas.so.0 with
     * openblas_set_num_threads(workers).
     */
    public static final class Interleaved {
        private Interleaved() {}

        public static void main(String[] args) throws Throwable {
            double seconds = Double.parseDouble(System.getProperty("seconds", "4"));
            String[] cases = args.length > 0 ? args : GemmBench.class.getField("shape").getAnnotation(Param.class).value();
            Linker linker = Linker.nativeLinker();
            SymbolLookup blas;
            try {
                blas = SymbolLookup.libraryLookup("libopenblas.so.0", Arena.global());
            } catch (IllegalArgumentException e) {
                System.err.println("GemmBench$Interleaved: libopenblas.so.0 not found (apt-get install libopenblas0-pthread)");
                System.exit(2);
                return;
            }
            MethodHandle sgemm = linker.downcallHandle(blas.find("cblas_sgemm").orElseThrow(), FunctionDescriptor.ofVoid(
                    ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.JAVA_FLOAT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_INT, ValueLayout.JAVA_FLOAT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            MethodHandle setThreads = linker.downcallHandle(blas.find("openblas_set_num_threads").orElseThrow(),
                    FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
            System.out.println("fourfold: " + Gemm.machineKernels());
            System.out.println("| case | fourfold GFLOP/s | OpenBLAS GFLOP/s | ratio (median) | ratio q1..q3 | pairs |");
            System.out.println("|---|---|---|---|---|---|");
            List<String> speedUps = new ArrayList<>();
            for (String c : cases) {
                GemmBench ours = new GemmBench();
                ours.shape = c;
                ours.setup();
                GemmBench single = null;
                int workers = ours.device.threads();
                if (workers > 1) { // the same case on one worker, for the speed-up
                    single = new GemmBench();
                    single.shape = c.substring(0, c.lastIndexOf('_')) + "_t1";
                    single.setup();
                }
                setThreads.invokeExact(workers);
                int m = ours.c.rows(), n = ours.c.cols(), k = ours.variant.charAt(0) == 't' ? ours.a.rows() : ours.a.cols();
                boolean tA = ours.variant.charAt(0) == 't', tB = ours.variant.charAt(1) == 't';
                MemorySegment a = ours.a.segment(), b = ours.b.segment(), cs = ours.c.segment();
                int lda = ours.a.cols(), ldb = ours.b.cols();
                double flops = 2.0 * m * n * k;
                int calls = (int) Math.max(1, 4e7 / flops);
                List<Double> mine = new ArrayList<>(), theirs = new ArrayList<>(), ratio = new ArrayList<>(), scale = new ArrayList<>();
                long warm = System.nanoTime() + 5_000_000_000L; // JIT warm-up of the Vector API code
                while (System.nanoTime() < warm) {
                    ours.gemm();
                    if (single != null) single.gemm();
                }
                long end = System.nanoTime() + (long) (seconds * 1e9);
                while (System.nanoTime() < end) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < calls; i++) ours.gemm();
                    long t1 = System.nanoTime();
                    for (int i = 0; i < calls; i++) {
                        sgemm.invokeExact(101, tA ? 112 : 111, tB ? 112 : 111, m, n, k, 1f, a, lda, b, ldb, 0f, cs, n);
                    }
                    long t2 = System.nanoTime();
                    mine.add(flops * calls / (t1 - t0));
                    theirs.add(flops * calls / (t2 - t1));
                    ratio.add((double) (t2 - t1) / (t1 - t0));
                    if (single != null) {
                        long t3 = System.nanoTime();
                        for (int i = 0; i < calls; i++) single.gemm();
                        scale.add((double) (System.nanoTime() - t3) / (t1 - t0));
                    }
                }
                System.out.printf("| %s | %.1f | %.1f | %.2f | %.2f..%.2f | %d |%n", c, median(mine), median(theirs), median(ratio),
                        quantile(ratio, 0.25), quantile(ratio, 0.75), ratio.size());
                if (single != null) {
                    speedUps.add(String.format("%s: fourfold on %d workers vs 1: %.2fx (q1..q3 %.2f..%.2f, %d pairs)", c, workers,
                            median(scale), quantile(scale, 0.25), quantile(scale, 0.75), scale.size()));
                    single.tearDown();
                }
                ours.tearDown();
            }
            for (String line : speedUps) System.out.println("\n" + line);
        }

        private static double median(List<Double> x) {
            return quantile(x, 0.5);
        }

        private static double quantile(List<Double> x, double q) {
            List<Double> s = new ArrayList<>(x);
            Collections.sort(s);
            return s.get((int) Math.min(s.size() - 1, Math.floor(q * s.size())));
        }
    }
}
