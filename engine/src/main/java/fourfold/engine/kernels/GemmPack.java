package fourfold.engine.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Packing for {@link Gemm}: copies a block of op(A) or op(B) into the contiguous slivers the
 * micro-kernels stream through, so the kernels never see lda/ldb and all variants share them.
 * Missing rows/columns of an edge sliver are zero-filled, so a kernel always runs a full tile
 * (the padded part is simply not written back).
 *
 * <pre>
 * packed A, an (mc, kc) block, slivers of MR rows, each SLIVER_A floats apart, in one of two layouts:
 *   row-major  pa[s][r][k]  rows KC floats apart   from A stored (M, lda): MR straight row copies
 *   k-major    pa[s][k][r]  MR floats per k        from A stored (K, lda) (transA): one MR-run per k
 * packed B, a (kc, nc) panel, slivers of nr columns, k-major:  pb[s][k][c]  (nr floats per k)
 *   from B stored (K, ldb): a vector copy per k; from B stored (N, ldb) (transB): 8x8 transposes
 * </pre>
 * The A layout follows A's storage so that packing A is always a copy; the kernel reads it either
 * way with constant offsets ({@link GemmKernels}). Offsets into A/B are in floats (as the BLAS-style
 * call gives them), offsets into the packed buffers are in bytes.
 */
final class GemmPack {
    private GemmPack() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** 8 floats: one MR-run of A (6 used, 2 overwritten by the next run) and one 8x8 transpose row. */
    private static final VectorSpecies<Float> S8 = FloatVector.SPECIES_256;
    /** Use the 256-bit paths only where 256-bit vectors are native (not on 128-bit-only machines). */
    private static final boolean HAS_256 = S.vectorBitSize() >= 256;
    private static final ByteOrder NO = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final int MR = GemmKernels.MR;
    private static final int KC = Gemm.KC;
    /** Floats from one A sliver to the next (both layouts): MR rows of up to KC. */
    static final int SLIVER_A = MR * KC;
    /** Floats the packed A buffer needs past its last sliver: an MR-run is written as 8 floats. */
    static final int SLACK_A = 8;

    /** Packs rows [i0, i0+mc) x k [p0, p0+kc) of op(A) into {@code pa}. */
    static void packA(boolean transA, MemorySegment a, long aOff, int lda, int i0, int mc, int p0, int kc, MemorySegment pa) {
        for (int s = 0; s < mc; s += MR) {
            int rows = Math.min(MR, mc - s);
            long dst = (long) s / MR * SLIVER_A * Float.BYTES;
            if (!transA) {
                packRowMajor(a, aOff, lda, i0 + s, rows, p0, kc, pa, dst);
            } else {
                packKMajor(a, aOff, lda, i0 + s, rows, p0, kc, pa, dst);
            }
        }
    }

    /** A stored (M, lda): each of the sliver's rows is a contiguous run of kc floats, copied as is. */
    private static void packRowMajor(MemorySegment a, long aOff, int lda, int i, int rows, int p0, int kc,
                                     MemorySegment pa, long dst) {
        long rowBytes = (long) kc * Float.BYTES;
        for (int r = 0; r < MR; r++) {
            long d = dst + (long) r * KC * Float.BYTES;
            if (r < rows) {
                MemorySegment.copy(a, (aOff + (long) (i + r) * lda + p0) * Float.BYTES, pa, d, rowBytes);
            } else {
                pa.asSlice(d, rowBytes).fill((byte) 0); // rows below the edge of A
            }
        }
    }

    /** A stored (K, lda): for one k the sliver's MR values are contiguous; copy one run per k. */
    private static void packKMajor(MemorySegment a, long aOff, int lda, int i, int rows, int p0, int kc,
                                   MemorySegment pa, long dst) {
        long src = (aOff + (long) p0 * lda + i) * Float.BYTES;
        long ldaBytes = (long) lda * Float.BYTES;
        long runBytes = (long) MR * Float.BYTES;
        // 8-float loads read 2 floats past the run: only where A's segment has them.
        if (HAS_256 && rows == MR && src + (kc - 1) * ldaBytes + S8.vectorByteSize() <= a.byteSize()) {
            // Each 8-float store spills 2 floats into the next k's run, which the next store overwrites
            // (the last one lands in the next sliver, packed later, or in the buffer's slack).
            for (int k = 0; k < kc; k++) {
                FloatVector.fromMemorySegment(S8, a, src + k * ldaBytes, NO).intoMemorySegment(pa, dst + k * runBytes, NO);
            }
            return;
        }
        for (int k = 0; k < kc; k++) {
            long s = src + k * ldaBytes, d = dst + k * runBytes;
            for (int r = 0; r < MR; r++) {
                pa.set(F, d + (long) r * Float.BYTES, r < rows ? a.get(F, s + (long) r * Float.BYTES) : 0f);
            }
        }
    }

    /** Packs k [p0, p0+kc) x columns [j0, j0+nc) of op(B) into {@code pb}, slivers of nr columns. */
    static void packB(boolean transB, MemorySegment b, long bOff, int ldb, int p0, int kc, int j0, int nc,
                      MemorySegment pb, int nr) {
        for (int s = 0; s < nc; s += nr) {
            int cols = Math.min(nr, nc - s);
            long dst = (long) s * kc * Float.BYTES; // sliver s/nr holds nr*kc floats
            if (!transB) {
                packCopy(b, bOff, ldb, p0, kc, j0 + s, cols, pb, dst, nr);
            } else {
                packTransposed(b, bOff, ldb, p0, kc, j0 + s, cols, pb, dst, nr);
            }
        }
    }

    /** B stored (K, ldb): the sliver's nr columns of one k are contiguous, a straight vector copy. */
    private static void packCopy(MemorySegment b, long bOff, int ldb, int p0, int kc, int j, int cols,
                                 MemorySegment pb, long dst, int nr) {
        long src = (bOff + (long) p0 * ldb + j) * Float.BYTES;
        long ldbBytes = (long) ldb * Float.BYTES;
        long kStride = (long) nr * Float.BYTES;
        for (int k = 0; k < kc; k++) {
            long s = src + k * ldbBytes, d = dst + k * kStride;
            if (cols == nr) {
                for (int v = 0; v < nr; v += L) {
                    FloatVector.fromMemorySegment(S, b, s + (long) v * Float.BYTES, NO).intoMemorySegment(pb, d + (long) v * Float.BYTES, NO);
                }
            } else {
                for (int c = 0; c < nr; c++) {
                    pb.set(F, d + (long) c * Float.BYTES, c < cols ? b.get(F, s + (long) c * Float.BYTES) : 0f);
                }
            }
        }
    }

    // Shuffles of an 8x8 transpose (two-vector rearranges: indexes 8..15 pick from the second vector).
    private static final VectorShuffle<Float> PAIR_LO = VectorShuffle.fromValues(S8, 0, 8, 1, 9, 4, 12, 5, 13);
    private static final VectorShuffle<Float> PAIR_HI = VectorShuffle.fromValues(S8, 2, 10, 3, 11, 6, 14, 7, 15);
    private static final VectorShuffle<Float> QUAD_LO = VectorShuffle.fromValues(S8, 0, 1, 8, 9, 4, 5, 12, 13);
    private static final VectorShuffle<Float> QUAD_HI = VectorShuffle.fromValues(S8, 2, 3, 10, 11, 6, 7, 14, 15);
    private static final VectorShuffle<Float> HALF_LO = VectorShuffle.fromValues(S8, 0, 1, 2, 3, 8, 9, 10, 11);
    private static final VectorShuffle<Float> HALF_HI = VectorShuffle.fromValues(S8, 4, 5, 6, 7, 12, 13, 14, 15);

    /** B stored (N, ldb): column c of op(B) is row j+c of B; transpose 8 rows x 8 k at a time. */
    private static void packTransposed(MemorySegment b, long bOff, int ldb, int p0, int kc, int j, int cols,
                                       MemorySegment pb, long dst, int nr) {
        long ldbBytes = (long) ldb * Float.BYTES;
        long kStride = (long) nr * Float.BYTES;
        int k8 = HAS_256 && cols == nr ? kc / 8 * 8 : 0; // k handled by the 8x8 blocks
        for (int c0 = 0; c0 < nr && k8 > 0; c0 += 8) {
            long src = (bOff + (long) (j + c0) * ldb + p0) * Float.BYTES;
            long dc = dst + (long) c0 * Float.BYTES;
            for (int k = 0; k < k8; k += 8) {
                long s = src + (long) k * Float.BYTES;
                FloatVector r0 = FloatVector.fromMemorySegment(S8, b, s, NO);
                FloatVector r1 = FloatVector.fromMemorySegment(S8, b, s + ldbBytes, NO);
                FloatVector r2 = FloatVector.fromMemorySegment(S8, b, s + 2 * ldbBytes, NO);
                FloatVector r3 = FloatVector.fromMemorySegment(S8, b, s + 3 * ldbBytes, NO);
                FloatVector r4 = FloatVector.fromMemorySegment(S8, b, s + 4 * ldbBytes, NO);
                FloatVector r5 = FloatVector.fromMemorySegment(S8, b, s + 5 * ldbBytes, NO);
                FloatVector r6 = FloatVector.fromMemorySegment(S8, b, s + 6 * ldbBytes, NO);
                FloatVector r7 = FloatVector.fromMemorySegment(S8, b, s + 7 * ldbBytes, NO);
                // interleave rows pairwise, then pairs of pairs, then 128-bit halves: row k of the result is column k
                FloatVector t0 = r0.rearrange(PAIR_LO, r1), t1 = r0.rearrange(PAIR_HI, r1);
                FloatVector t2 = r2.rearrange(PAIR_LO, r3), t3 = r2.rearrange(PAIR_HI, r3);
                FloatVector t4 = r4.rearrange(PAIR_LO, r5), t5 = r4.rearrange(PAIR_HI, r5);
                FloatVector t6 = r6.rearrange(PAIR_LO, r7), t7 = r6.rearrange(PAIR_HI, r7);
                FloatVector u0 = t0.rearrange(QUAD_LO, t2), u1 = t0.rearrange(QUAD_HI, t2);
                FloatVector u2 = t1.rearrange(QUAD_LO, t3), u3 = t1.rearrange(QUAD_HI, t3);
                FloatVector u4 = t4.rearrange(QUAD_LO, t6), u5 = t4.rearrange(QUAD_HI, t6);
                FloatVector u6 = t5.rearrange(QUAD_LO, t7), u7 = t5.rearrange(QUAD_HI, t7);
                long d = dc + k * kStride;
                u0.rearrange(HALF_LO, u4).intoMemorySegment(pb, d, NO);
                u1.rearrange(HALF_LO, u5).intoMemorySegment(pb, d + kStride, NO);
                u2.rearrange(HALF_LO, u6).intoMemorySegment(pb, d + 2 * kStride, NO);
                u3.rearrange(HALF_LO, u7).intoMemorySegment(pb, d + 3 * kStride, NO);
                u0.rearrange(HALF_HI, u4).intoMemorySegment(pb, d + 4 * kStride, NO);
                u1.rearrange(HALF_HI, u5).intoMemorySegment(pb, d + 5 * kStride, NO);
                u2.rearrange(HALF_HI, u6).intoMemorySegment(pb, d + 6 * kStride, NO);
                u3.rearrange(HALF_HI, u7).intoMemorySegment(pb, d + 7 * kStride, NO);
            }
        }
        // The k tail (and edge slivers): one column at a time, reading B's rows contiguously.
        for (int c = 0; c < nr; c++) {
            long src = (bOff + (long) (j + c) * ldb + p0) * Float.BYTES;
            long d = dst + (long) c * Float.BYTES;
            for (int k = k8; k < kc; k++) {
                pb.set(F, d + k * kStride, c < cols ? b.get(F, src + (long) k * Float.BYTES) : 0f);
            }
        }
    }
}
