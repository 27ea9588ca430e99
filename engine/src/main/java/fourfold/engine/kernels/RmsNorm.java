package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.engine.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * RMSNorm as Hugging Face Llama computes it: y = x / sqrt(mean(x²) + eps) * w, per row.
 *
 * <p>In float32 exactly as LlamaRMSNorm: variance = mean(x²); rstd = 1 / sqrt(variance + eps)
 * (torch.rsqrt: a rounded sqrt, then a rounded division); y = (x * rstd) * w.
 */
public final class RmsNorm {
    private RmsNorm() {}

    private static final VectorSpecies<Float> S = KernelSupport.FLOATS;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** x (N,C), weight (C) -> out (N,C); rstd (N) keeps 1/sqrt(mean(x²)+eps) for backward. out may alias x. */
    public static void forward(Tensor x, Tensor weight, float eps, Tensor out, Tensor rstd) {
        String op = "RmsNorm.forward";
        Tensor.requireSameDevice(op, x, weight, out, rstd);
        int N = x.rows(), C = x.cols();
        weight.requireShape(op, C);
        KernelSupport.requireMatrix(op, out, N, C);
        KernelSupport.requireNumel(op, rstd, N, "one rstd per row of " + x.name());
        if (!(eps >= 0) || Float.isInfinite(eps)) throw new IllegalArgumentException(op + ": eps must be finite and >= 0, got " + eps);
        MemorySegment sx = x.segment(), sw = weight.segment(), so = out.segment(), sr = rstd.segment();
        int bound = S.loopBound(C); // full vectors; a masked tail covers [bound, C)
        Device device = x.device();
        device.parallelFor(N, KernelSupport.rowGrain(C), (r0, r1) -> {
            // Two passes over the chunk: first every row's rstd, then the outputs. The per-row scalar
            // tail (lane sum, sqrt, division) is a long dependency chain; with no output loop
            // between two rows' reductions, consecutive rows' chains overlap.
            float[] lanes = new float[S.length()];
            for (int r = r0; r < r1; r++) {
                long row = (long) r * C * Float.BYTES;
                FloatVector acc = FloatVector.zero(S);
                int i = 0;
                for (; i < bound; i += S.length()) {
                    FloatVector v = FloatVector.fromMemorySegment(S, sx, row + (long) i * Float.BYTES, NATIVE);
                    acc = v.fma(v, acc);
                }
                if (i < C) { // masked lanes load 0 and add 0
                    FloatVector v = FloatVector.fromMemorySegment(S, sx, row + (long) i * Float.BYTES, NATIVE, S.indexInRange(i, C));
                    acc = v.fma(v, acc);
                }
                acc.intoArray(lanes, 0);
                float variance = KernelSupport.sumLanes(lanes) / C;
                sr.setAtIndex(Tensor.F32, r, 1.0f / (float) Math.sqrt(variance + eps));
            }
            for (int r = r0; r < r1; r++) { // y = (x * rstd) * w
                long row = (long) r * C * Float.BYTES;
                float rs = sr.getAtIndex(Tensor.F32, r);
                int i = 0;
                for (; i < bound; i += S.length()) {
                    long off = row + (long) i * Float.BYTES;
                    FloatVector.fromMemorySegment(S, sx, off, NATIVE).mul(rs)
                            .mul(FloatVector.fromMemorySegment(S, sw, (long) i * Float.BYTES, NATIVE))
                            .intoMemorySegment(so, off, NATIVE);
                }
                if (i < C) {
                    VectorMask<Float> m = S.indexInRange(i, C);
                    long off = row + (long) i * Float.BYTES;
                    FloatVector.fromMemorySegment(S, sx, off, NATIVE, m).mul(rs)
                            .mul(FloatVector.fromMemorySegment(S, sw, (long) i * Float.BYTES, NATIVE, m))
                            .intoMemorySegment(so, off, NATIVE, m);
                }
            }
        });
        device.recordCompute("rmsnorm.forward", 4.0 * N * C, 8.0 * N * C + 4.0 * C + 4.0 * N);
    }

    /**
     * dout (N,C) -> dx (N,C) overwritten; dweight (C) accumulated (+=). dx may alias dout.
     *
     * <p>With xhat = x * r and y = xhat * w: dweight += sum over rows of dout * xhat, and
     * dx = r * (g - x * r² * mean(g * x)) with g = dout * w.
     */
    public static void backward(Tensor dout, Tensor x, Tensor weight, Tensor rstd, Tensor dx, Tensor dweight) {
        String op = "RmsNorm.backward";
        Tensor.requireSameDevice(op, dout, x, weight, rstd, dx, dweight);
        int N = x.rows(), C = x.cols();
        KernelSupport.requireMatrix(op, dout, N, C);
        KernelSupport.requireMatrix(op, dx, N, C);
        weight.requireShape(op, C);
        dweight.requireShape(op, C);
        KernelSupport.requireNumel(op, rstd, N, "one rstd per row of " + x.name());
        MemorySegment sdo = dout.segment(), sx = x.segment(), sw = weight.segment(), sr = rstd.segment();
        MemorySegment sdx = dx.segment(), sdw = dweight.segment();
        Device device = x.device();

        int bound = S.loopBound(C); // full vectors; a masked tail covers [bound, C)

        // dweight first (dx may overwrite dout). Parallel over column ranges, rows in order, so
        // every element of dweight sees the same additions in the same order for any thread count.
        int colVectors = (C + S.length() - 1) / S.length();
        device.parallelFor(colVectors, KernelSupport.rowGrain(N * S.length()), (v0, v1) -> {
            int c0 = v0 * S.length(), c1 = Math.min(C, v1 * S.length()), full = c0 + (c1 - c0) / S.length() * S.length();
            for (int r = 0; r < N; r++) {
                long row = (long) r * C * Float.BYTES;
                float rs = sr.getAtIndex(Tensor.F32, r);
                int i = c0;
                for (; i < full; i += S.length()) { // dweight += dout * (x * rstd)
                    long col = (long) i * Float.BYTES;
                    FloatVector xhat = FloatVector.fromMemorySegment(S, sx, row + col, NATIVE).mul(rs);
                    FloatVector.fromMemorySegment(S, sdo, row + col, NATIVE).fma(xhat, FloatVector.fromMemorySegment(S, sdw, col, NATIVE))
                            .intoMemorySegment(sdw, col, NATIVE);
                }
                if (i < c1) {
                    VectorMask<Float> m = S.indexInRange(i, c1);
                    long col = (long) i * Float.BYTES;
                    FloatVector xhat = FloatVector.fromMemorySegment(S, sx, row + col, NATIVE, m).mul(rs);
                    FloatVector.fromMemorySegment(S, sdo, row + col, NATIVE, m).fma(xhat, FloatVector.fromMemorySegment(S, sdw, col, NATIVE, m))
                            .intoMemorySegment(sdw, col, NATIVE, m);
                }
            }
        });

        device.parallelFor(N, KernelSupport.rowGrain(C), (r0, r1) -> {
            // Two passes over the chunk, as in forward: every row's k = rstd² · mean(g · x), then dx.
            float[] lanes = new float[S.length()];
            float[] k = new float[r1 - r0];
            for (int r = r0; r < r1; r++) {
                long row = (long) r * C * Float.BYTES;
                FloatVector acc = FloatVector.zero(S);
                int i = 0;
                for (; i < bound; i += S.length()) { // sum(g * x), g = dout * w
                    long off = row + (long) i * Float.BYTES;
                    FloatVector g = FloatVector.fromMemorySegment(S, sdo, off, NATIVE)
                            .mul(FloatVector.fromMemorySegment(S, sw, (long) i * Float.BYTES, NATIVE));
                    acc = g.fma(FloatVector.fromMemorySegment(S, sx, off, NATIVE), acc);
                }
                if (i < C) { // masked lanes load 0 and add 0
                    VectorMask<Float> m = S.indexInRange(i, C);
                    long off = row + (long) i * Float.BYTES;
                    FloatVector g = FloatVector.fromMemorySegment(S, sdo, off, NATIVE, m)
                            .mul(FloatVector.fromMemorySegment(S, sw, (long) i * Float.BYTES, NATIVE, m));
                    acc = g.fma(FloatVector.fromMemorySegment(S, sx, off, NATIVE, m), acc);
                }
                acc.intoArray(lanes, 0);
                float rs = sr.getAtIndex(Tensor.F32, r);
                k[r - r0] = rs * rs * (KernelSupport.sumLanes(lanes) / C);
            }
            for (int r = r0; r < r1; r++) { // dx = rstd * (g - x * k)
                long row = (long) r * C * Float.BYTES;
                float rs = sr.getAtIndex(Tensor.F32, r), kr = -k[r - r0];
                int i = 0;
                for (; i < bound; i += S.length()) {
                    long off = row + (long) i * Float.BYTES;
                    FloatVector g = FloatVector.fromMemorySegment(S, sdo, off, NATIVE)
                            .mul(FloatVector.fromMemorySegment(S, sw, (long) i * Float.BYTES, NATIVE));
                    FloatVector.fromMemorySegment(S, sx, off, NATIVE).mul(kr).add(g).mul(rs).intoMemorySegment(sdx, off, NATIVE);
                }
                if (i < C) {
                    VectorMask<Float> m = S.indexInRange(i, C);
                    long off = row + (long) i * Float.BYTES;
                    FloatVector g = FloatVector.fromMemorySegment(S, sdo, off, NATIVE, m)
                            .mul(FloatVector.fromMemorySegment(S, sw, (long) i * Float.BYTES, NATIVE, m));
                    FloatVector.fromMemorySegment(S, sx, off, NATIVE, m).mul(kr).add(g).mul(rs).intoMemorySegment(sdx, off, NATIVE, m);
                }
            }
        });
        device.recordCompute("rmsnorm.backward", 9.0 * N * C, 12.0 * N * C + 8.0 * C + 4.0 * N);
    }
}
