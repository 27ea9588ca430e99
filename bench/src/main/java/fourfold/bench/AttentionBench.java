package fourfold.bench;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.engine.kernels.Attention;
import fourfold.engine.kernels.AttentionMask;
import fourfold.engine.kernels.AttentionShape;
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
 * Causal attention on one worker thread, forward and forward+backward, at the sizes of the
 * {@code tiny} (B=12, T=64, nh=4, hs=32) and {@code small} (B=4, T=256, nh=6, hs=64) presets.
 * GFLOP/s = causal flops / time: forward 4*hs per visible (query, key) pair and head, backward
 * 10*hs; the setup prints both counts.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow", "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
        "-Dchronicle.analytics.disable=true"})
public class AttentionBench {
    @Param({"tiny", "small"})
    public String preset;

    /** kv heads; 0 = as many as query heads (no GQA). */
    @Param({"0"})
    public int nkv;

    private Device device;
    private AttentionShape s;
    private AttentionMask mask;
    private Tensor q, k, v, out, lse, dout, dq, dk, dv;

    @Setup(Level.Trial)
    public void setup() {
        int B, T, nh, hs;
        switch (preset) {
            case "tiny" -> { B = 12; T = 64; nh = 4; hs = 32; }
            case "small" -> { B = 4; T = 256; nh = 6; hs = 64; }
            default -> throw new IllegalArgumentException("preset: tiny or small, got " + preset);
        }
        s = new AttentionShape(B, T, T, nh, nkv == 0 ? nh : nkv, hs);
        mask = AttentionMask.causal(T);
        device = new Device(0, 256L << 20, 1);
        Random rnd = new Random(42);
        q = random(rnd, "q", B, T, nh, hs);
        k = random(rnd, "k", B, T, s.nkv(), hs);
        v = random(rnd, "v", B, T, s.nkv(), hs);
        dout = random(rnd, "dout", B, T, nh, hs);
        out = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "out", B, T, nh, hs);
        lse = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "lse", B, nh, T);
        dq = Tensor.zeros(device, MemoryTag.GRADS, "dq", B, T, nh, hs);
        dk = Tensor.zeros(device, MemoryTag.GRADS, "dk", B, T, s.nkv(), hs);
        dv = Tensor.zeros(device, MemoryTag.GRADS, "dv", B, T, s.nkv(), hs);
        double pairs = (double) B * nh * T * (T + 1) / 2;
        System.err.printf("%n%s %s: causal flops forward %.0f, backward %.0f%n", preset, s, 4.0 * hs * pairs, 10.0 * hs * pairs);
    }

    private Tensor random(Random rnd, String name, int... shape) {
        Tensor t = Tensor.empty(device, MemoryTag.ACTIVATIONS, name, shape);
        float[] a = new float[(int) t.numel()];
        for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
        return t.copyFrom(a);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        device.close();
    }

    @Benchmark
    public Tensor forward() {
        Attention.forward(q, k, v, out, lse, s, mask);
        return out;
    }

    @Benchmark
    public Tensor forwardBackward() {
        Attention.forward(q, k, v, out, lse, s, mask);
        Attention.backward(dout, q, k, v, out, lse, dq, dk, dv, s, mask);
        return dq;
    }
}
