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
}
