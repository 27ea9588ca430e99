package fourfold.engine.kernels;

import fourfold.engine.tensor.Tensor;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static fourfold.engine.kernels.AttentionKernels.BQ;
import static fourfold.engine.kernels.AttentionKernels.F;
import static fourfold.engine.kernels.AttentionKernels.L;

/**
 * Moves rows of one head between the tensors (B, Tx, heads, hs) in device memory and the
 * kernels' heap scratch: panel blocks, transposed blocks, and accumulation back (+=).
 * Whole vectors and the masked last vector are separate loops: a vector merged across a branch
 * would be boxed by the JIT.
 */
final class AttentionIO {
    private AttentionIO() {}

    /** Byte offset of row t of head h of x (B, Tx, heads, hs). */
    static long rowAt(AttentionShape s, int b, int t, int heads, int h, int Tx) {
        return (((long) b * Tx + t) * heads + h) * s.hs() * Float.BYTES;
    }

    /**
     * Copies rows [t0, t0+n) of head h of x (B, Tx, heads, hs), times {@code scale}, into dst as a
     * panel block of {@code rows} rows (see AttentionKernels): element (r, c) at
     * dOff + (c / L) * ps + r * L + c % L. Padding columns and rows [n, rows) are zero.
     */
    static void loadPanels(MemorySegment x, AttentionShape s, int b, int t0, int n, int heads, int h, int Tx,
                           float[] dst, int dOff, int ps, int rows, float scale) {
        int hs = s.hs(), hsP = Attention.hsPadded(s);
        for (int r = 0; r < n; r++) {
            long at = rowAt(s, b, t0 + r, heads, h, Tx);
            int di = dOff + r * L, c0 = 0;
            for (; c0 + L <= hs; c0 += L, di += ps) {
                FloatVector.fromMemorySegment(F, x, at + (long) c0 * Float.BYTES, ByteOrder.nativeOrder()).mul(scale).intoArray(dst, di);
            }
            if (c0 < hs) {
                FloatVector.fromMemorySegment(F, x, at + (long) c0 * Float.BYTES, ByteOrder.nativeOrder(), F.indexInRange(c0, hs))
                        .mul(scale).intoArray(dst, di);
            }
        }
        FloatVector zero = FloatVector.zero(F);
        for (int r = n; r < rows; r++) {
            for (int c0 = 0, di = dOff + r * L; c0 < hsP; c0 += L, di += ps) zero.intoArray(dst, di);
        }
    }

    /**
     * Rewrites rows [0, rows) of a panel block (src at srcOff, panel stride ps) as transposed
     * blocks of BQ rows: row r, column d at dOff + (r / BQ) * hsP * BQ + d * BQ + r % BQ.
     * rows is a multiple of BQ.
     */
    static void transposePanels(float[] src, int srcOff, int ps, int rows, int hsP, float[] dst, int dOff) {
        for (int r = 0; r < rows; r++) {
            int di = dOff + r / BQ * hsP * BQ + r % BQ;
            for (int d0 = 0; d0 < hsP; d0 += L) {
                int si = srcOff + d0 / L * ps + r * L;
                for (int dd = 0; dd < L; dd++) dst[di + (d0 + dd) * BQ] = src[si + dd];
            }
        }
    }

    /** rowsum(a * b) over one row of hs values of two tensors (B, Tx, heads, hs), lanes summed in a fixed order. */
    static float dot(MemorySegment a, MemorySegment c, long at, int hs, float[] lanes) {
        FloatVector acc = FloatVector.zero(F);
        int c0 = 0;
        for (; c0 + L <= hs; c0 += L) {
            long o = at + (long) c0 * Float.BYTES;
            acc = FloatVector.fromMemorySegment(F, a, o, ByteOrder.nativeOrder())
                    .fma(FloatVector.fromMemorySegment(F, c, o, ByteOrder.nativeOrder()), acc);
        }
        if (c0 < hs) {
            long o = at + (long) c0 * Float.BYTES;
            acc = FloatVector.fromMemorySegment(F, a, o, ByteOrder.nativeOrder(), F.indexInRange(c0, hs))
                    .fma(FloatVector.fromMemorySegment(F, c, o, ByteOrder.nativeOrder(), F.indexInRange(c0, hs)), acc);
        }
        acc.intoArray(lanes, 0);
        float sum = 0f;
        for (int i = 0; i < L; i++) sum += lanes[i];
        return sum;
    }

    /** x[at .. at + hs floats) = factor * a[off .. off+hs). */
    static void storeRow(MemorySegment x, long at, float[] a, int off, int hs, float factor) {
        int c0 = 0;
        for (; c0 + L <= hs; c0 += L) {
            FloatVector.fromArray(F, a, off + c0).mul(factor).intoMemorySegment(x, at + (long) c0 * Float.BYTES, ByteOrder.nativeOrder());
        }
        for (; c0 < hs; c0++) x.set(Tensor.F32, at + (long) c0 * Float.BYTES, a[off + c0] * factor);
    }

    /** x[at .. at + hs floats) += factor * a[off .. off+hs): gradients accumulate. */
    static void addRow(MemorySegment x, long at, float[] a, int off, int hs, float factor) {
        int c0 = 0;
        for (; c0 + L <= hs; c0 += L) {
            long o = at + (long) c0 * Float.BYTES;
            FloatVector.fromMemorySegment(F, x, o, ByteOrder.nativeOrder())
                    .add(FloatVector.fromArray(F, a, off + c0).mul(factor))
                    .intoMemorySegment(x, o, ByteOrder.nativeOrder());
        }
        for (; c0 < hs; c0++) {
            long o = at + (long) c0 * Float.BYTES;
            x.set(Tensor.F32, o, x.get(Tensor.F32, o) + a[off + c0] * factor);
        }
    }

    /**
     * Positions and documents of queries [q0, q0+n) of batch row b into qpos / qdoc at dOff,
     * padded to whole blocks (the padding is excluded from the mask by index); documents are all
     * 0 without a document mask.
     */
    static void loadQueryMask(AttentionMask mask, AttentionShape s, int b, int q0, int n, int[] qpos, int[] qdoc, int dOff) {
        int padded = AttentionKernels.roundUp(n, BQ);
        System.arraycopy(mask.qPos(), q0, qpos, dOff, n);
        java.util.Arrays.fill(qpos, dOff + n, dOff + padded, 0);
        if (mask.qDoc() != null) {
            System.arraycopy(mask.qDoc(), b * s.T() + q0, qdoc, dOff, n);
            java.util.Arrays.fill(qdoc, dOff + n, dOff + padded, 0);
        } else { // no documents: every query in document 0, as every key (see AttentionKernels.mask)
            java.util.Arrays.fill(qdoc, dOff, dOff + padded, 0);
        }
    }
}
