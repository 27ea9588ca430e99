package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.engine.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * SwiGLU gate of the Llama MLP: out = silu(gate) * up, silu(x) = x * sigmoid(x).
 * silu is computed as torch computes it on CPU: x / (1 + exp(-x)), with the kernels' reproducible
 * exp ({@link KernelSupport#exp}), a chunk of exp(-gate) at a time.
 */
public final class SwiGlu {
    private SwiGlu() {}

    private static final VectorSpecies<Float> S = KernelSupport.FLOATS;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** Elements per parallel block (a multiple of every vector length, so only the last block has a tail). */
    private static final int BLOCK = KernelSupport.MIN_ELEMENTS_PER_TASK;

    /** gate (N,F), up (N,F) -> out (N,F). out may alias gate or up. */
    public static void forward(Tensor gate, Tensor up, Tensor out) {
        String op = "SwiGlu.forward";
        Tensor.requireSameDevice(op, gate, up, out);
        int N = gate.rows(), F = gate.cols();
        KernelSupport.requireMatrix(op, up, N, F);
        KernelSupport.requireMatrix(op, out, N, F);
        MemorySegment sg = gate.segment(), su = up.segment(), so = out.segment();
        long n = (long) N * F; // elementwise: rows do not matter, the tensors are contiguous
        Device device = gate.device();
        device.parallelFor(blocks(n), 1, (b0, b1) -> {
            float[] e = KernelSupport.expScratch();
            long end = Math.min(n, (long) b1 * BLOCK);
            for (long c = (long) b0 * BLOCK; c < end; c += KernelSupport.EXP_CHUNK) { // chunks of exp(-g) kept in L1
                int len = (int) Math.min(KernelSupport.EXP_CHUNK, end - c);
                KernelSupport.exp(sg, c * Float.BYTES, len, -1f, 0f, e);
                int i = 0;
                for (; i + S.length() <= len; i += S.length()) { // silu(g) * u = g / (1 + exp(-g)) * u
                    long off = (c + i) * Float.BYTES;
                    FloatVector g = FloatVector.fromMemorySegment(S, sg, off, NATIVE);
                    FloatVector u = FloatVector.fromMemorySegment(S, su, off, NATIVE);
                    g.div(FloatVector.fromArray(S, e, i).add(1f)).mul(u).intoMemorySegment(so, off, NATIVE);
                }
                if (i < len) {
                    VectorMask<Float> m = S.indexInRange(i, len);
                    long off = (c + i) * Float.BYTES;
                    FloatVector g = FloatVector.fromMemorySegment(S, sg, off, NATIVE, m);
                    FloatVector u = FloatVector.fromMemorySegment(S, su, off, NATIVE, m);
                    g.div(FloatVector.fromArray(S, e, i, m).add(1f)).mul(u).intoMemorySegment(so, off, NATIVE, m);
                }
            }
        });
        device.recordCompute("swiglu.forward", 5.0 * n, 12.0 * n);
    }

    /**
     * dout (N,F) -> dgate, dup (N,F), overwritten (either may alias dout, gate or up).
     * With s = sigmoid(g): dup = dout * silu(g), dgate = dout * up * s * (1 + g * (1 - s)).
     */
    public static void backward(Tensor dout, Tensor gate, Tensor up, Tensor dgate, Tensor dup) {
        String op = "SwiGlu.backward";
        Tensor.requireSameDevice(op, dout, gate, up, dgate, dup);
        int N = gate.rows(), F = gate.cols();
        KernelSupport.requireMatrix(op, dout, N, F);
        KernelSupport.requireMatrix(op, up, N, F);
        KernelSupport.requireMatrix(op, dgate, N, F);
        KernelSupport.requireMatrix(op, dup, N, F);
        MemorySegment sd = dout.segment(), sg = gate.segment(), su = up.segment();
        MemorySegment sdg = dgate.segment(), sdu = dup.segment();
        long n = (long) N * F;
        Device device = gate.device();
        device.parallelFor(blocks(n), 1, (b0, b1) -> {
            float[] e = KernelSupport.expScratch();
            long end = Math.min(n, (long) b1 * BLOCK);
            for (long c = (long) b0 * BLOCK; c < end; c += KernelSupport.EXP_CHUNK) {
                int len = (int) Math.min(KernelSupport.EXP_CHUNK, end - c);
                KernelSupport.exp(sg, c * Float.BYTES, len, -1f, 0f, e); // before any store: outputs may alias gate
                // all loads before any store: the outputs may alias the inputs.
                // torch's silu_backward order: (dy * s) * (1 + g * (1 - s)) with dy = dout * up, s = 1 / (1 + exp(-g))
                int i = 0;
                for (; i + S.length() <= len; i += S.length()) {
                    long off = (c + i) * Float.BYTES;
                    FloatVector d = FloatVector.fromMemorySegment(S, sd, off, NATIVE);
                    FloatVector g = FloatVector.fromMemorySegment(S, sg, off, NATIVE);
                    FloatVector u = FloatVector.fromMemorySegment(S, su, off, NATIVE);
                    FloatVector den = FloatVector.fromArray(S, e, i).add(1f);
                    FloatVector sig = FloatVector.broadcast(S, 1f).div(den);
                    d.mul(u).mul(sig).mul(g.mul(sig.neg().add(1f)).add(1f)).intoMemorySegment(sdg, off, NATIVE);
                    d.mul(g.div(den)).intoMemorySegment(sdu, off, NATIVE);
                }
                if (i < len) {
                    VectorMask<Float> m = S.indexInRange(i, len);
                    long off = (c + i) * Float.BYTES;
                    FloatVector d = FloatVector.fromMemorySegment(S, sd, off, NATIVE, m);
                    FloatVector g = FloatVector.fromMemorySegment(S, sg, off, NATIVE, m);
                    FloatVector u = FloatVector.fromMemorySegment(S, su, off, NATIVE, m);
                    FloatVector den = FloatVector.fromArray(S, e, i, m).add(1f);
                    FloatVector sig = FloatVector.broadcast(S, 1f).div(den);
                    d.mul(u).mul(sig).mul(g.mul(sig.neg().add(1f)).add(1f)).intoMemorySegment(sdg, off, NATIVE, m);
                    d.mul(g.div(den)).intoMemorySegment(sdu, off, NATIVE, m);
                }
            }
        });
        device.recordCompute("swiglu.backward", 12.0 * n, 20.0 * n);
    }

    private static int blocks(long n) {
        return (int) ((n + BLOCK - 1) / BLOCK);
    }
}
