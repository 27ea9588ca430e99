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

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Causal attention on one worker thread, forward and forward+backward, at the sizes of the
 * {@code tiny} (B=12, T=64, nh=4, hs=32) and {@code small} (B=4, T=256, nh=6, hs=64) presets.
 * GFLOP/s = causal flops / time: forward 4*hs per visible (query, key) pair and head, backward
 * 10*hs; the setup prints both counts. {@link #fmaPeak} measures, in the same run, what one core
 * sustains on independent FMAs (no memory): the reference for the attention numbers on a busy
 * or unknown machine.
 *
 * <p>{@link #main} is a second way to run the same code on a shared machine: it times with the
 * thread's CPU time (time spent waiting for the core is not counted) and keeps the best of many
 * repetitions, printing GFLOP/s and the ratio to fmaPeak measured the same way.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 8, time = 2)
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
        System.err.printf("%n%s %s: causal flops forward %.0f, backward %.0f; fmaPeak flops per call %d (%d lanes)%n",
                preset, s, 4.0 * hs * pairs, 10.0 * hs * pairs, 2L * F.length() * 8 * PEAK_ITERS, F.length());
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

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** FMAs per fmaPeak call: 8 chains x PEAK_ITERS; flops = 2 * lanes * 8 * PEAK_ITERS. */
    public static final int PEAK_ITERS = 100_000;

    /** Register-only FMA throughput (8 independent chains hide the latency): 2*L*8*PEAK_ITERS flops per call. */
    @Benchmark
    public float fmaPeak() {
        FloatVector x = FloatVector.broadcast(F, 0.999f), y = FloatVector.broadcast(F, 0.001f);
        FloatVector a0 = x, a1 = y, a2 = x, a3 = y, a4 = x, a5 = y, a6 = x, a7 = y;
        for (int i = 0; i < PEAK_ITERS; i++) {
            a0 = a0.fma(x, y); a1 = a1.fma(x, y); a2 = a2.fma(x, y); a3 = a3.fma(x, y);
            a4 = a4.fma(x, y); a5 = a5.fma(x, y); a6 = a6.fma(x, y); a7 = a7.fma(x, y);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).reduceLanes(VectorOperators.ADD);
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

    private static float sink; // keeps the probe's result alive

    /** {@code java -cp benchmarks.jar fourfold.bench.AttentionBench [tiny] [small]}: CPU-time best-of-N figures. */
    public static void main(String[] args) {
        String[] presets = args.length == 0 ? new String[] {"tiny", "small"} : args;
        AttentionBench probe = new AttentionBench();
        double peakFlops = 2.0 * F.length() * 8 * PEAK_ITERS;
        double peak = peakFlops / bestCpuSeconds(() -> sink += probe.fmaPeak(), 20, 40) / 1e9;
        System.out.printf("fmaPeak: %.1f GFLOP/s (%d lanes)%n", peak, F.length());
        for (String p : presets) {
            AttentionBench b = new AttentionBench();
            b.preset = p;
            b.setup();
            double pairs = (double) b.s.B() * b.s.nh() * b.s.T() * (b.s.T() + 1) / 2, hs = b.s.hs();
            int inner = p.equals("tiny") ? 40 : 5;
            double fwd = bestCpuSeconds(b::forward, inner, 60), fb = bestCpuSeconds(b::forwardBackward, inner, 60);
            System.out.printf("%s forward:          %8.3f ms  %6.1f GFLOP/s  %3.0f%% of fmaPeak  %3.0f%% of 211%n",
                    p, fwd * 1e3, 4 * hs * pairs / fwd / 1e9, 100 * 4 * hs * pairs / fwd / 1e9 / peak, 100 * 4 * hs * pairs / fwd / 211e9);
            System.out.printf("%s forward+backward: %8.3f ms  %6.1f GFLOP/s  %3.0f%% of fmaPeak  %3.0f%% of 211%n",
                    p, fb * 1e3, 14 * hs * pairs / fb / 1e9, 100 * 14 * hs * pairs / fb / 1e9 / peak, 100 * 14 * hs * pairs / fb / 211e9);
            b.tearDown();
        }
    }

    /** Best per-call CPU time of the current thread over {@code reps} batches of {@code inner} calls, after a third as warm-up. */
    private static double bestCpuSeconds(Runnable r, int inner, int reps) {
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        double best = Double.MAX_VALUE;
        for (int rep = 0; rep < reps + reps / 3; rep++) {
            long t0 = mx.getCurrentThreadCpuTime();
            for (int i = 0; i < inner; i++) r.run();
            double sec = (mx.getCurrentThreadCpuTime() - t0) / 1e9 / inner;
            if (rep >= reps / 3) best = Math.min(best, sec);
        }
        return best;
    }
}
