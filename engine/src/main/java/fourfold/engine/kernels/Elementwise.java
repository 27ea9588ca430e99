package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.engine.tensor.Tensor;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Elementwise kernels over whole tensors of equal element count (shapes may differ: a (B,T,C)
 * activation and its (B*T, C) view are the same vector of numbers here).
 */
public final class Elementwise {
    private Elementwise() {}

    private static final VectorSpecies<Float> S = KernelSupport.FLOATS;
    /** Same bit size as S: one float vector widens into exactly two double vectors. */
    private static final VectorSpecies<Double> D = VectorSpecies.of(double.class, S.vectorShape());
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** Elements per parallel block (a multiple of every vector length, so only the last block has a tail). */
    private static final int BLOCK = KernelSupport.MIN_ELEMENTS_PER_TASK;
    /**
     * sumOfSquares adds one partial sum per block of this many elements, blocks in index order:
     * the block size, not the thread count, fixes the order of every addition.
     */
    private static final int SUM_BLOCK = 1 << 12;

    /** out = a + b. out may alias a or b. */
    public static void add(Tensor a, Tensor b, Tensor out) {
        add("Elementwise.add", a, b, out);
    }

    /** acc += x. */
    public static void addInPlace(Tensor acc, Tensor x) {
        add("Elementwise.addInPlace", acc, x, acc);
    }

    /** out = a + b under the caller's name for error messages. */
    private static void add(String op, Tensor a, Tensor b, Tensor out) {
        Tensor.requireSameDevice(op, a, b, out);
        KernelSupport.requireSameNumel(op, a, b, out);
        long n = a.numel();
        MemorySegment sa = a.segment(), sb = b.segment(), so = out.segment();
        Device device = a.device();
        device.parallelFor(blocks(n), 1, (b0, b1) -> {
            long end = Math.min(n, (long) b1 * BLOCK);
            long i = (long) b0 * BLOCK;
            for (; i + S.length() <= end; i += S.length()) {
                long off = i * Float.BYTES;
                FloatVector.fromMemorySegment(S, sa, off, NATIVE).add(FloatVector.fromMemorySegment(S, sb, off, NATIVE))
                        .intoMemorySegment(so, off, NATIVE);
            }
            if (i < end) {
                VectorMask<Float> m = S.indexInRange(i, end);
                long off = i * Float.BYTES;
                FloatVector.fromMemorySegment(S, sa, off, NATIVE, m).add(FloatVector.fromMemorySegment(S, sb, off, NATIVE, m))
                        .intoMemorySegment(so, off, NATIVE, m);
            }
        });
        device.recordCompute("elementwise.add", n, 12.0 * n);
    }

    /** y += alpha * x (one rounding: a fused multiply-add per element). */
    public static void axpy(float alpha, Tensor x, Tensor y) {
        String op = "Elementwise.axpy";
        Tensor.requireSameDevice(op, x, y);
        KernelSupport.requireSameNumel(op, x, y);
        long n = x.numel();
        MemorySegment sx = x.segment(), sy = y.segment();
        Device device = x.device();
        device.parallelFor(blocks(n), 1, (b0, b1) -> {
            FloatVector a = FloatVector.broadcast(S, alpha);
            long end = Math.min(n, (long) b1 * BLOCK);
            long i = (long) b0 * BLOCK;
            for (; i + S.length() <= end; i += S.length()) {
                long off = i * Float.BYTES;
                FloatVector.fromMemorySegment(S, sx, off, NATIVE).fma(a, FloatVector.fromMemorySegment(S, sy, off, NATIVE))
                        .intoMemorySegment(sy, off, NATIVE);
            }
            if (i < end) {
                VectorMask<Float> m = S.indexInRange(i, end);
                long off = i * Float.BYTES;
                FloatVector.fromMemorySegment(S, sx, off, NATIVE, m).fma(a, FloatVector.fromMemorySegment(S, sy, off, NATIVE, m))
                        .intoMemorySegment(sy, off, NATIVE, m);
            }
        });
        device.recordCompute("elementwise.axpy", 2.0 * n, 12.0 * n);
    }

    /** x *= s, in place. */
    public static void scale(Tensor x, float s) {
        long n = x.numel();
        MemorySegment sx = x.segment();
        Device device = x.device();
        device.parallelFor(blocks(n), 1, (b0, b1) -> {
            long end = Math.min(n, (long) b1 * BLOCK);
            long i = (long) b0 * BLOCK;
            for (; i + S.length() <= end; i += S.length()) {
                long off = i * Float.BYTES;
                FloatVector.fromMemorySegment(S, sx, off, NATIVE).mul(s).intoMemorySegment(sx, off, NATIVE);
            }
            if (i < end) {
                VectorMask<Float> m = S.indexInRange(i, end);
                long off = i * Float.BYTES;
                FloatVector.fromMemorySegment(S, sx, off, NATIVE, m).mul(s).intoMemorySegment(sx, off, NATIVE, m);
            }
        });
        device.recordCompute("elementwise.scale", n, 8.0 * n);
    }

    /**
     * out = exp(x), elementwise, with the kernels' reproducible exp (below 1 ulp; the same bits on
     * every CPU and JIT tier, see KernelSupport.exp). out may alias x.
     */
    public static void exp(Tensor x, Tensor out) {
        String op = "Elementwise.exp";
        Tensor.requireSameDevice(op, x, out);
        KernelSupport.requireSameNumel(op, x, out);
        long n = x.numel();
        MemorySegment sx = x.segment(), so = out.segment();
        Device device = x.device();
        device.parallelFor(blocks(n), 1, (b0, b1) -> {
            float[] e = KernelSupport.expScratch();
            long end = Math.min(n, (long) b1 * BLOCK);
            for (long c = (long) b0 * BLOCK; c < end; c += KernelSupport.EXP_CHUNK) {
                int len = (int) Math.min(KernelSupport.EXP_CHUNK, end - c);
                KernelSupport.exp(sx, c * Float.BYTES, len, 1f, 0f, e);
                MemorySegment.copy(e, 0, so, Tensor.F32, c * Float.BYTES, len);
            }
        });
        device.recordCompute("elementwise.exp", 20.0 * n, 8.0 * n);
    }

    /**
     * Sum of x², accumulated in double in a fixed order (bitwise reproducible; for the gradient norm).
     * Each square of a float is exact in double; the order is: within a block of SUM_BLOCK elements,
     * 2 x D.length() lane sums, added pairwise, then the block sums in index order. No step depends on
     * how many workers the device has.
     */
    public static double sumOfSquares(Tensor x) {
        long n = x.numel();
        MemorySegment sx = x.segment();
        Device device = x.device();
        int sumBlocks = (int) ((n + SUM_BLOCK - 1) / SUM_BLOCK);
        double[] partial = new double[sumBlocks];
        device.parallelFor(sumBlocks, BLOCK / SUM_BLOCK, (b0, b1) -> {
            double[] lanes = new double[D.length()];
            for (int b = b0; b < b1; b++) {
                long end = Math.min(n, (long) (b + 1) * SUM_BLOCK);
                long i = (long) b * SUM_BLOCK;
                // each float vector widens into two double vectors (its low and high halves)
                DoubleVector acc0 = DoubleVector.zero(D), acc1 = DoubleVector.zero(D);
                for (; i + S.length() <= end; i += S.length()) {
                    FloatVector f = FloatVector.fromMemorySegment(S, sx, i * Float.BYTES, NATIVE);
                    DoubleVector lo = (DoubleVector) f.convertShape(VectorOperators.F2D, D, 0);
                    DoubleVector hi = (DoubleVector) f.convertShape(VectorOperators.F2D, D, 1);
                    acc0 = lo.fma(lo, acc0);
                    acc1 = hi.fma(hi, acc1);
                }
                if (i < end) { // masked lanes load 0 and add 0
                    FloatVector f = FloatVector.fromMemorySegment(S, sx, i * Float.BYTES, NATIVE, S.indexInRange(i, end));
                    DoubleVector lo = (DoubleVector) f.convertShape(VectorOperators.F2D, D, 0);
                    DoubleVector hi = (DoubleVector) f.convertShape(VectorOperators.F2D, D, 1);
                    acc0 = lo.fma(lo, acc0);
                    acc1 = hi.fma(hi, acc1);
                }
                acc0.add(acc1).intoArray(lanes, 0);
                partial[b] = KernelSupport.sumLanes(lanes);
            }
        });
        double sum = 0;
        for (double p : partial) sum += p;
        device.recordCompute("elementwise.sum_of_squares", 2.0 * n, 4.0 * n);
        return sum;
    }

    private static int blocks(long n) {
        return (int) ((n + BLOCK - 1) / BLOCK);
    }
}
