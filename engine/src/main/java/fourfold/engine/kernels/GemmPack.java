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
 * packed A, an (mc, kc) block: slivers of MR rows, k-major:   pa[s][k][r]  (MR floats per k)
 *   from A stored (K, lda) (transA): the MR values of one k are contiguous, one 8-float copy per k
 *   from A stored (M, lda): MR rows read side by side and interleaved
 * packed B, a (kc, nc) panel: slivers of NR columns, k-major: pb[s][k][c]  (NR floats per k)
 *   from B stored (K, ldb): row by row across all slivers, vector copies; from B stored (N, ldb) (transB): 8x8 transposes
 * </pre>
 * Offsets into A/B are in floats (as the BLAS-style call gives them), offsets into the packed
 * buffers are in bytes.
 */
final class GemmPack {
    private GemmPack() {}

    private static final VectorSpecies<Float> S = KernelSupport.FLOATS;
    private static final int L = S.length();
    /** 8 floats: one MR-run of A (MR used, the rest overwritten by the next run) and one 8x8 transpose row. */
    private static final VectorSpecies<Float> S8 = FloatVector.SPECIES_256;
    /** Use the 256-bit paths only where 256-bit vectors are native (not on 128-bit-only machines). */
    private static final boolean HAS_256 = S.vectorBitSize() >= 256;
    private static final ByteOrder NO = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final int MR = GemmKernels.MR;
    /** Columns of a B sliver: NV vectors. */
    private static final int NR = GemmKernels.NR;
    private static final int NV = GemmKernels.NV;
    private static final long VB = (long) L * Float.BYTES;

    /** Packs rows [i0, i0+mc) x k [p0, p0+kc) of op(A) into {@code pa}. */
    static void packA(boolean transA, MemorySegment a, long aOff, int lda, int i0, int mc, int p0, int kc, MemorySegment pa) {
        int full = mc / MR * MR; // rows in full slivers
        if (transA) {
            packRuns(a, aOff, lda, i0, full, p0, kc, pa);
        } else {
            packRows(a, aOff, lda, i0, full, p0, kc, pa);
        }
        if (full < mc) packEdgeA(transA, a, aOff, lda, i0 + full, mc - full, p0, kc, pa, (long) full * kc * Float.BYTES);
    }

    /*
     * The loops below keep every address a hoisted base + k * constant, with the sliver loop in the
     * same method: then C2 lifts all bounds checks out of the k loop (a method per sliver kept one
     * check per access: 0.75 instead of 0.4 ns per float).
     */

    /** A stored (M, lda), the full slivers of rows [i0, i0+rows): MR rows read side by side, one float of each per k. */
    private static void packRows(MemorySegment a, long aOff, int lda, int i0, int rows, int p0, int kc, MemorySegment pa) {
        long ldaBytes = (long) lda * Float.BYTES;
        for (int s = 0; s < rows; s += MR) {
            long s0 = (aOff + (long) (i0 + s) * lda + p0) * Float.BYTES;
            long d0 = (long) s * kc * Float.BYTES;
            for (int k = 0; k < kc; k++) {
                long ks = s0 + k * 4L, kd = d0 + k * (MR * 4L);
                for (int r = 0; r < MR; r++) pa.set(F, kd + r * 4L, a.get(F, ks + r * ldaBytes)); // C2 unrolls: MR is constant
            }
        }
    }

    /**
     * A stored (K, lda), the full slivers of rows [i0, i0+rows): for one k a sliver's MR values are
     * contiguous; each is copied as one 8-float vector. Each store spills 2 floats into the next k's
     * run, which the next store overwrites; the last k of a sliver is copied exactly (its spill
     * would land in the next sliver, already packed). Four slivers are copied side by side, so each
     * row of A is read 24 floats at a time while its cache line is hot, rather than once per
     * sliver. Slivers whose 8-float reads would leave A's segment are copied in scalars.
     */
    private static void packRuns(MemorySegment a, long aOff, int lda, int i0, int rows, int p0, int kc, MemorySegment pa) {
        long ldaBytes = (long) lda * Float.BYTES;
        long sliverBytes = (long) MR * kc * Float.BYTES;
        long runBytes = MR * Float.BYTES;
        int slivers = rows / MR;
        int s = 0;
        if (HAS_256) {
            for (; s + 4 <= slivers; s += 4) {
                long src = (aOff + (long) p0 * lda + i0 + (long) s * MR) * Float.BYTES;
                if (src + (kc - 1) * ldaBytes + 3 * runBytes + S8.vectorByteSize() > a.byteSize()) break;
                long d0 = s * sliverBytes, d1 = d0 + sliverBytes, d2 = d1 + sliverBytes, d3 = d2 + sliverBytes;
                for (int k = 0; k < kc - 1; k++) {
                    long ks = src + k * ldaBytes, kd = k * runBytes;
                    FloatVector.fromMemorySegment(S8, a, ks, NO).intoMemorySegment(pa, d0 + kd, NO);
                    FloatVector.fromMemorySegment(S8, a, ks + runBytes, NO).intoMemorySegment(pa, d1 + kd, NO);
                    FloatVector.fromMemorySegment(S8, a, ks + 2 * runBytes, NO).intoMemorySegment(pa, d2 + kd, NO);
                    FloatVector.fromMemorySegment(S8, a, ks + 3 * runBytes, NO).intoMemorySegment(pa, d3 + kd, NO);
                }
                copyFloats(a, src + (kc - 1) * ldaBytes, pa, d0 + (kc - 1) * runBytes, 4, runBytes, sliverBytes);
            }
            for (; s < slivers; s++) { // the last 1-3 slivers, one at a time
                long src = (aOff + (long) p0 * lda + i0 + (long) s * MR) * Float.BYTES;
                if (src + (kc - 1) * ldaBytes + S8.vectorByteSize() > a.byteSize()) break;
                long d0 = s * sliverBytes;
                for (int k = 0; k < kc - 1; k++) {
                    FloatVector.fromMemorySegment(S8, a, src + k * ldaBytes, NO).intoMemorySegment(pa, d0 + k * runBytes, NO);
                }
                copyFloats(a, src + (kc - 1) * ldaBytes, pa, d0 + (kc - 1) * runBytes, 1, runBytes, sliverBytes);
            }
        }
        for (; s < slivers; s++) packEdgeA(true, a, aOff, lda, i0 + s * MR, MR, p0, kc, pa, s * sliverBytes);
    }

    /** The last k of {@code slivers} side-by-side slivers: MR floats each, read contiguously, written sliverBytes apart. */
    private static void copyFloats(MemorySegment a, long src, MemorySegment pa, long dst, int slivers, long runBytes, long sliverBytes) {
        // scalar copies: MemorySegment.copy of 24 bytes costs several times more (measured: 5% of a training step)
        for (int s = 0; s < slivers; s++) {
            for (int r = 0; r < MR; r++) {
                pa.set(F, dst + s * sliverBytes + r * Float.BYTES, a.get(F, src + s * runBytes + r * Float.BYTES));
            }
        }
    }

    /** One sliver of {@code rows} <= MR rows starting at row i, in scalars; zeros below the edge. */
    private static void packEdgeA(boolean transA, MemorySegment a, long aOff, int lda, int i, int rows, int p0, int kc,
                                  MemorySegment pa, long dst) {
        long runBytes = MR * Float.BYTES;
        for (int r = 0; r < MR; r++) {
            long d = dst + (long) r * Float.BYTES;
            if (r >= rows) {
                for (int k = 0; k < kc; k++) pa.set(F, d + k * runBytes, 0f);
                continue;
            }
            // element (row i + r, k) of op(A): A[p0 + k][i + r] when transposed, else A[i + r][p0 + k]
            long first = (aOff + (transA ? (long) p0 * lda + i + r : (long) (i + r) * lda + p0)) * Float.BYTES;
            long step = (transA ? lda : 1) * (long) Float.BYTES;
            for (int k = 0; k < kc; k++) pa.set(F, d + k * runBytes, a.get(F, first + k * step));
        }
    }

    /** Packs k [p0, p0+kc) x columns [j0, j0+nc) of op(B) into {@code pb}, slivers of NR columns. */
    static void packB(boolean transB, MemorySegment b, long bOff, int ldb, int p0, int kc, int j0, int nc, MemorySegment pb) {
        if (!transB) {
            packRowsOfB(b, bOff, ldb, p0, kc, 0, kc, j0, nc, pb);
            return;
        }
        int full = nc / NR * NR; // columns in full slivers
        packTransposed(b, bOff, ldb, p0, kc, j0, full, pb);
        if (full < nc) packEdgeB(true, b, bOff, ldb, p0, kc, 0, kc, j0 + full, nc - full, pb, (long) full * kc * Float.BYTES);
    }

    /**
     * B stored (K, ldb) (not transposed): rows [k0, k1) of the (kc, nc) block at k p0, all its
     * slivers, into the block's packed panel {@code pb}. Workers can pack disjoint row ranges of one panel.
     */
    static void packRowsOfB(MemorySegment b, long bOff, int ldb, int p0, int kc, int k0, int k1, int j0, int nc, MemorySegment pb) {
        int full = nc / NR * NR;
        packCopy(b, bOff, ldb, p0, kc, k0, k1, j0, full, pb);
        if (full < nc) packEdgeB(false, b, bOff, ldb, p0, kc, k0, k1, j0 + full, nc - full, pb, (long) full * kc * Float.BYTES);
    }

    /**
     * B stored (K, ldb), rows [k0, k1) of the full slivers of columns [j0, j0+cols): for one k a
     * sliver's NR columns are contiguous, a straight copy of NV vectors. Row by row across all the
     * slivers, so B is read front to back: going down four slivers at a time instead (rows ldb
     * apart) ran at 0.2-0.6 floats per ns where whole rows run at 1.6-4.3 (at ldb = 1024 every row
     * maps to one L1 set; measured with cold and warm B, 128 to 4096 columns; docs/BENCHMARKS.md).
     */
    private static void packCopy(MemorySegment b, long bOff, int ldb, int p0, int kc, int k0, int k1, int j0, int cols, MemorySegment pb) {
        long ldbBytes = (long) ldb * Float.BYTES;
        long rowBytes = (long) NR * Float.BYTES;     // one k of one sliver
        long sliverBytes = kc * rowBytes;
        int slivers = cols / NR;
        long src = (bOff + (long) p0 * ldb + j0) * Float.BYTES;
        for (int k = k0; k < k1; k++) {
            long ks = src + k * ldbBytes, kd = k * rowBytes;
            for (int s = 0; s < slivers; s++) {
                for (int v = 0; v < NV; v++) {
                    FloatVector.fromMemorySegment(S, b, ks + s * rowBytes + v * VB, NO).intoMemorySegment(pb, kd + s * sliverBytes + v * VB, NO);
                }
            }
        }
    }

    /** Rows [k0, k1) of the last sliver, with fewer than NR columns, in scalars; zeros right of the edge. */
    private static void packEdgeB(boolean transB, MemorySegment b, long bOff, int ldb, int p0, int kc, int k0, int k1, int j, int cols,
                                  MemorySegment pb, long dst) {
        for (int c = 0; c < NR; c++) {
            long d = dst + (long) c * Float.BYTES;
            for (int k = k0; k < k1; k++) {
                float v = 0f;
                if (c < cols) v = b.get(F, (bOff + (transB ? (long) (j + c) * ldb + p0 + k : (long) (p0 + k) * ldb + j + c)) * Float.BYTES);
                pb.set(F, d + (long) k * NR * Float.BYTES, v);
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

    /** B stored (N, ldb), the full slivers of columns [j0, j0+cols): column c of op(B) is row j0+c of B; 8x8 transposes. */
    private static void packTransposed(MemorySegment b, long bOff, int ldb, int p0, int kc, int j0, int cols, MemorySegment pb) {
        long ldbBytes = (long) ldb * Float.BYTES;
        long kStride = (long) NR * Float.BYTES;
        int k8 = HAS_256 ? kc / 8 * 8 : 0; // k handled by 8x8 blocks; cols is a multiple of NR, so of 8
        for (int c0 = 0; c0 < cols; c0 += 8) {
            long src = (bOff + (long) (j0 + c0) * ldb + p0) * Float.BYTES;
            // column c0 lands in sliver c0/NR at column c0%NR
            long dc = ((long) (c0 / NR) * NR * kc + c0 % NR) * Float.BYTES;
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
            // the k tail: one column at a time, reading B's rows contiguously
            for (int c = c0; c < c0 + 8; c++) {
                long sc = (bOff + (long) (j0 + c) * ldb + p0) * Float.BYTES;
                long d = ((long) (c / NR) * NR * kc + c % NR) * Float.BYTES;
                for (int k = k8; k < kc; k++) pb.set(F, d + k * kStride, b.get(F, sc + (long) k * Float.BYTES));
            }
        }
    }
}
