package fourfold.engine.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Packing for {@link Gemm}: copies a block of op(A) or op(B) into the contiguous layout the
 * micro-kernel streams through, so the kernel never sees strides or transposes and all four
 * variants share it. Missing rows/columns of an edge sliver are filled with zeros, so the kernel
 * always runs a full tile (the padded lanes are simply not written back).
 *
 * <pre>
 * packed A, an (mc, kc) block: slivers of MR rows; in a sliver, k-major:  pa[s][k][r]  (MR floats per k)
 * packed B, a  (kc, nc) panel: slivers of nr cols; in a sliver, k-major:  pb[s][k][c]  (nr floats per k)
 * </pre>
 * Offsets into A/B are in floats (as the BLAS-style call gives them), offsets into the packed
 * buffers are in bytes.
 */
final class GemmPack {
    private GemmPack() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder NO = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /** Packs rows [i0, i0+mc) x k [p0, p0+kc) of op(A) into {@code pa}. */
    static void packA(boolean transA, MemorySegment a, long aOff, int lda, int i0, int mc, int p0, int kc,
                      MemorySegment pa, int mr) {
        long kStride = (long) mr * Float.BYTES; // bytes between k and k+1 inside a sliver
        for (int s = 0; s < mc; s += mr) {
            int rows = Math.min(mr, mc - s);
            long dst = (long) s * kc * Float.BYTES; // sliver s/mr holds mr*kc floats
            if (!transA) {
                // A is (M, lda): each row is contiguous in k; scatter it down one column of the sliver.
                for (int r = 0; r < rows; r++) {
                    long src = (aOff + (long) (i0 + s + r) * lda + p0) * Float.BYTES;
                    long d = dst + (long) r * Float.BYTES;
                    for (int k = 0; k < kc; k++) {
                        pa.set(F, d + k * kStride, a.get(F, src + (long) k * Float.BYTES));
                    }
                }
            } else {
                // A is (K, lda): for one k the mr rows of op(A) are contiguous; copy them as a run.
                for (int k = 0; k < kc; k++) {
                    long src = (aOff + (long) (p0 + k) * lda + i0 + s) * Float.BYTES;
                    long d = dst + k * kStride;
                    for (int r = 0; r < rows; r++) {
                        pa.set(F, d + (long) r * Float.BYTES, a.get(F, src + (long) r * Float.BYTES));
                    }
                }
            }
            for (int r = rows; r < mr; r++) { // zero rows below the edge
                for (int k = 0; k < kc; k++) pa.set(F, dst + k * kStride + (long) r * Float.BYTES, 0f);
            }
        }
    }

    /** Packs k [p0, p0+kc) x columns [j0, j0+nc) of op(B) into {@code pb}. */
    static void packB(boolean transB, MemorySegment b, long bOff, int ldb, int p0, int kc, int j0, int nc,
                      MemorySegment pb, int nr) {
        long kStride = (long) nr * Float.BYTES;
        for (int s = 0; s < nc; s += nr) {
            int cols = Math.min(nr, nc - s);
            long dst = (long) s * kc * Float.BYTES;
            if (!transB) {
                // B is (K, ldb): the nr columns of one k are contiguous, a straight vector copy.
                for (int k = 0; k < kc; k++) {
                    long src = (bOff + (long) (p0 + k) * ldb + j0 + s) * Float.BYTES;
                    long d = dst + k * kStride;
                    if (cols == nr) {
                        for (int v = 0; v < nr; v += L) {
                            FloatVector.fromMemorySegment(S, b, src + (long) v * Float.BYTES, NO)
                                    .intoMemorySegment(pb, d + (long) v * Float.BYTES, NO);
                        }
                    } else {
                        for (int c = 0; c < cols; c++) pb.set(F, d + (long) c * Float.BYTES, b.get(F, src + (long) c * Float.BYTES));
                        for (int c = cols; c < nr; c++) pb.set(F, d + (long) c * Float.BYTES, 0f);
                    }
                }
            } else {
                // B is (N, ldb): column c of op(B) is row j0+s+c of B, contiguous in k; transpose it in.
                for (int c = 0; c < cols; c++) {
                    long src = (bOff + (long) (j0 + s + c) * ldb + p0) * Float.BYTES;
                    long d = dst + (long) c * Float.BYTES;
                    for (int k = 0; k < kc; k++) {
                        pb.set(F, d + k * kStride, b.get(F, src + (long) k * Float.BYTES));
                    }
                }
                for (int c = cols; c < nr; c++) {
                    for (int k = 0; k < kc; k++) pb.set(F, dst + k * kStride + (long) c * Float.BYTES, 0f);
                }
            }
        }
    }
}
