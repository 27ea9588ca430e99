package fourfold.bench;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.engine.kernels.AdamW;
import fourfold.engine.kernels.CrossEntropy;
import fourfold.engine.kernels.Elementwise;
import fourfold.engine.kernels.Embedding;
import fourfold.engine.kernels.RmsNorm;
import fourfold.engine.kernels.Rope;
import fourfold.engine.kernels.SwiGlu;
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

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The memory-bound kernels at model-like sizes, on one device with one worker (one core):
 * N = 12 * 64 = 768 rows (batch 12 x sequence 64), C = 128 or 384, F = 384 or 1024 (Llama's
 * ~8/3 C rounded up to a multiple of 128), V = 256 (byte vocabulary), head size 64.
 *
 * <p>The figure of merit is GB/s: bytes read + written (as each kernel reports them to the
 * simulated clock) divided by time. The references, measured in the same run, are plain memory
 * copies of a working set as large as the kernel's ({@link #copyRows} N x C, {@link #copyHidden}
 * N x F, {@link #copyParams} 3 x C x F; {@link #copyDram} 64 MB): how fast this core streams data
 * from the cache level the kernel's data lives in. SwiGLU and cross-entropy are bound by exp, not
 * by memory: {@link #elementwiseExp} (the kernels' exp over N x F) is their compute reference, and
 * {@link #expHidden} the JDK's SVML exp for comparison.
 *
 * <p>Run: {@code java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar KernelsBench}
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow", "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
        "-Dchronicle.analytics.disable=true"})
@State(Scope.Benchmark)
public class KernelsBench {
    static final int N = 12 * 64;
    static final int V = 256;
    static final int HEAD_SIZE = 64;
    static final int DRAM_COPY_BYTES = 64 << 20;
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** Model width; F follows it (128 -> 384, 384 -> 1024). */
    @Param({"128", "384"})
    int C;

    int F;
    Device device;
    Tensor x, w, y, rstd, dy, dx, dw;       // (N, C), (C), (N, C), (N), (N, C), (N, C), (C)
    Tensor gate, up, h, dh, dgate, dup;     // (N, F) each
    Tensor table, dtable, logits, dlogits;  // (V, C), (V, C), (N, V), (N, V)
    Tensor param, grad, m, v;               // (3 * C * F): the MLP weights of one block
    Tensor copySrc, copyDst;                // (N, C): reference working set of the (N, C) kernels
    Rope rope;
    int[] tokens, targets, positions;
    int step;
    Arena arena;
    MemorySegment dramSrc, dramDst;

    @Setup(Level.Trial)
    public void setUp() {
        F = C == 128 ? 384 : 1024;
        device = new Device(0, 256L << 20, 1);
        SplittableRandom r = new SplittableRandom(42);
        x = random(r, "x", N, C);
        w = random(r, "w", C);
        y = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "y", N, C);
        rstd = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "rstd", N);
        dy = random(r, "dy", N, C);
        dx = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "dx", N, C);
        dw = Tensor.zeros(device, MemoryTag.GRADS, "dw", C);
        gate = random(r, "gate", N, F);
        up = random(r, "up", N, F);
        h = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "h", N, F);
        dh = random(r, "dh", N, F);
        dgate = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "dgate", N, F);
        dup = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "dup", N, F);
        table = random(r, "wte", V, C);
        dtable = Tensor.zeros(device, MemoryTag.GRADS, "dwte", V, C);
        logits = random(r, "logits", N, V);
        dlogits = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "dlogits", N, V);
        param = random(r, "param", 3 * C * F);
        grad = random(r, "grad", 3 * C * F);
        m = Tensor.zeros(device, MemoryTag.OPTIMIZER, "exp_avg", 3 * C * F);
        v = Tensor.zeros(device, MemoryTag.OPTIMIZER, "exp_avg_sq", 3 * C * F);
        copySrc = random(r, "copy.src", N, C);
        copyDst = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "copy.dst", N, C);
        rope = new Rope(HEAD_SIZE, 64, 10000);
        tokens = new int[N];
        targets = new int[N];
        for (int i = 0; i < N; i++) {
            tokens[i] = r.nextInt(V);
            targets[i] = r.nextInt(V);
        }
        positions = new int[64];
        for (int t = 0; t < 64; t++) positions[t] = t;
        arena = Arena.ofShared();
        dramSrc = arena.allocate(DRAM_COPY_BYTES, 64);
        dramDst = arena.allocate(DRAM_COPY_BYTES, 64);
        dramSrc.fill((byte) 1);
        dramDst.fill((byte) 0);
    }

    private Tensor random(SplittableRandom r, String name, int... shape) {
        Tensor t = Tensor.empty(device, MemoryTag.ACTIVATIONS, name, shape);
        float[] a = new float[(int) t.numel()];
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        return t.copyFrom(a);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        device.close();
        arena.close();
    }

    // ---- references: plain copies of the working set (bytes = 2 x size) ----

    /** 8 N C bytes: the (N, C) kernels' working-set reference. */
    @Benchmark
    public void copyRows() {
        MemorySegment.copy(copySrc.segment(), 0, copyDst.segment(), 0, (long) N * C * Float.BYTES);
    }

    /** 8 N F bytes: the SwiGLU working-set reference. */
    @Benchmark
    public void copyHidden() {
        MemorySegment.copy(gate.segment(), 0, h.segment(), 0, (long) N * F * Float.BYTES);
    }

    /** 8 x 3 C F bytes: the AdamW working-set reference (AdamW itself touches 4 such tensors). */
    @Benchmark
    public void copyParams() {
        MemorySegment.copy(grad.segment(), 0, m.segment(), 0, (long) 3 * C * F * Float.BYTES);
    }

    /** The kernels' own exp over N x F (Elementwise.exp): the compute floor of SwiGLU and cross-entropy. */
    @Benchmark
    public void elementwiseExp() {
        Elementwise.exp(gate, h);
    }

    /** The JDK's vector exp (Intel SVML) over N x F, for comparison: faster, but not reproducible across JIT tiers. */
    @Benchmark
    public void expHidden() {
        MemorySegment src = gate.segment(), dst = h.segment();
        long bytes = (long) N * F * Float.BYTES;
        for (long off = 0; off < bytes; off += S.vectorByteSize()) {
            FloatVector.fromMemorySegment(S, src, off, NATIVE).lanewise(VectorOperators.EXP).intoMemorySegment(dst, off, NATIVE);
        }
    }

    /** 128 MB moved: DRAM bandwidth of one core. */
    @Benchmark
    public void copyDram() {
        MemorySegment.copy(dramSrc, 0, dramDst, 0, DRAM_COPY_BYTES);
    }

    // ---- kernels ----

    @Benchmark
    public void rmsnormForward() {
        RmsNorm.forward(x, w, 1e-5f, y, rstd);
    }

    @Benchmark
    public void rmsnormBackward() {
        RmsNorm.backward(dy, x, w, rstd, dx, dw);
    }

    /** (B=12, T=64, nh=C/64, hs=64), in place. */
    @Benchmark
    public void ropeForward() {
        rope.forward(y, 12, 64, C / HEAD_SIZE, positions);
    }

    @Benchmark
    public void swigluForward() {
        SwiGlu.forward(gate, up, h);
    }

    @Benchmark
    public void swigluBackward() {
        SwiGlu.backward(dh, gate, up, dgate, dup);
    }

    @Benchmark
    public void embeddingForward() {
        Embedding.forward(tokens, table, 0, y);
    }

    @Benchmark
    public void embeddingBackward() {
        Embedding.backward(tokens, dy, 0, dtable);
    }

    @Benchmark
    public double crossEntropyForwardBackward() {
        return CrossEntropy.forwardBackward(logits, targets, 1f / N, dlogits);
    }

    @Benchmark
    public void adamwStep() {
        AdamW.step(param, grad, m, v, ++step, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f);
    }

    @Benchmark
    public void elementwiseAdd() {
        Elementwise.add(x, dy, dx);
    }

    @Benchmark
    public void elementwiseAxpy() {
        Elementwise.axpy(1e-3f, dy, dx);
    }

    @Benchmark
    public double elementwiseSumOfSquares() {
        return Elementwise.sumOfSquares(grad);
    }
}
