package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.engine.tensor.Tensor;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

import static fourfold.engine.kernels.AttentionKernels.BK;
import static fourfold.engine.kernels.AttentionKernels.BQ;
import static fourfold.engine.kernels.AttentionKernels.F;
import static fourfold.engine.kernels.AttentionKernels.L;
import static fourfold.engine.kernels.AttentionKernels.TILE;
import static fourfold.engine.kernels.AttentionKernels.roundUp;

/**
 * Scaled dot-product attention, blocked with an online softmax (never a T x T matrix in memory),
 * with GQA, absolute-position causal masking and optional document masks.
 *
 * <p>FlashAttention-2 in structure: forward walks blocks of BQ queries against blocks of BK keys,
 * keeping a running max and sum per query, and skips key blocks that no query of the block can
 * see (so causal attention does about half the work). Backward recomputes each block of
 * probabilities from q, k and lse. The inner loops are in {@link AttentionKernels}. Forward tasks are (b, head, query block); backward tasks are
 * (b, kv head) and own every dq, dk, dv row they write, so the result does not depend on the
 * number of worker threads.
 */
public final class Attention {
    private Attention() {}

    /**
     * q (B,T,nh,hs), k and v (B,Tk,nkv,hs) -> out (B,T,nh,hs); lse (B,nh,T) receives the
     * log-sum-exp of each query's scaled scores (for backward, and for merging partial results
     * in ring attention). A query that sees no key gets out = 0 and lse = -infinity.
     */
    public static void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, AttentionShape s, AttentionMask mask) {
        String op = "attention forward";
        Tensor.requireSameDevice(op, q, k, v, out, lse);
        s.requireQuery(op, q);
        s.requireKeyValue(op, k);
        s.requireKeyValue(op, v);
        s.requireQuery(op, out);
        s.requireLse(op, lse);
        mask.validate(op, s);

        Device device = q.device();
        AttentionBlocks blocks = new AttentionBlocks(s, mask);
        MemorySegment qs = q.segment(), ks = k.segment(), vs = v.segment(), os = out.segment(), ls = lse.segment();
        AtomicLong visible = new AtomicLong(); // integer sum: exact in any order
        int tasks = s.B() * s.nh() * blocks.nqb;
        device.parallelFor(tasks, 1, (start, end) -> {
            AttentionScratch sc = AttentionScratch.forThread(hsPadded(s), BQ);
            long count = 0;
            for (int t = start; t < end; t++) count += forwardTask(t, qs, ks, vs, os, ls, s, mask, blocks, sc);
            visible.addAndGet(count);
        });
        long qkv = (long) s.B() * s.T() * s.nh() * s.hs() * 2 + (long) s.B() * s.Tk() * s.nkv() * s.hs() * 2;
        device.recordCompute("attention_fwd", 4.0 * s.hs() * visible.get(), 4.0 * (qkv + (long) s.B() * s.nh() * s.T()));
    }

    /** Gradients ACCUMULATED (+=) into dq (B,T,nh,hs), dk and dv (B,Tk,nkv,hs). */
    public static void backward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
                                Tensor dq, Tensor dk, Tensor dv, AttentionShape s, AttentionMask mask) {
        String op = "attention backward";
        Tensor.requireSameDevice(op, dout, q, k, v, out, lse, dq, dk, dv);
        s.requireQuery(op, dout);
        s.requireQuery(op, q);
        s.requireKeyValue(op, k);
        s.requireKeyValue(op, v);
        s.requireQuery(op, out);
        s.requireLse(op, lse);
        s.requireQuery(op, dq);
        s.requireKeyValue(op, dk);
        s.requireKeyValue(op, dv);
        mask.validate(op, s);

        Device device = q.device();
        AttentionBlocks blocks = new AttentionBlocks(s, mask);
        AttentionBackward.Segments seg = new AttentionBackward.Segments(dout.segment(), q.segment(), k.segment(), v.segment(),
                out.segment(), lse.segment(), dq.segment(), dk.segment(), dv.segment());
        AtomicLong visible = new AtomicLong();
        int rows = s.group() * blocks.nqb * BQ;
        device.parallelFor(s.B() * s.nkv(), 1, (start, end) -> {
            AttentionScratch sc = AttentionScratch.forThread(hsPadded(s), rows);
            long count = 0;
            for (int t = start; t < end; t++) count += AttentionBackward.task(t, seg, s, mask, blocks, sc);
            visible.addAndGet(count);
        });
        long qo = (long) s.B() * s.T() * s.nh() * s.hs(), kv = (long) s.B() * s.Tk() * s.nkv() * s.hs();
        // reads dout, q, out, dq, k, v, dk, dv and lse; writes dq, dk, dv
        device.recordCompute("attention_bwd", 10.0 * s.hs() * visible.get(), 4.0 * (5 * qo + 6 * kv + (long) s.B() * s.nh() * s.T()));
    }

    /** Head size rounded up to whole vectors: the row stride of the padded scratch blocks. */
    static int hsPadded(AttentionShape s) {
        return roundUp(s.hs(), L);
    }

    /** One query block of one (b, head): returns the number of visible (query, key) pairs. */
    private static long forwardTask(int task, MemorySegment qSeg, MemorySegment kSeg, MemorySegment vSeg,
                                    MemorySegment outSeg, MemorySegment lseSeg,
                                    AttentionShape s, AttentionMask mask, AttentionBlocks blocks, AttentionScratch sc) {
        int T = s.T(), Tk = s.Tk(), nh = s.nh(), hs = s.hs(), hsP = hsPadded(s);
        int qb = task % blocks.nqb, h = task / blocks.nqb % nh, b = task / blocks.nqb / nh;
        int kvh = h / s.group();
        int q0 = qb * BQ, nq = Math.min(BQ, T - q0), rowsQ = roundUp(nq, TILE);
        float scale = (float) (1.0 / Math.sqrt(hs));

        // qᵀ of the block, pre-scaled by 1/sqrt(hs): (hsP, BQ), padding zero
        loadTransposed(qSeg, s, b, q0, nq, nh, h, T, sc.qT, 0, scale, sc.row);
        loadQueryMask(mask, s, b, q0, nq, sc, 0);
        Arrays.fill(sc.m, Float.NEGATIVE_INFINITY);
        Arrays.fill(sc.lsum, 0f);
        Arrays.fill(sc.o, 0, BQ * hsP, 0f);

        long visible = 0;
        for (int kb = 0; kb < blocks.nkb; kb++) {
            int status = blocks.status(b, qb, kb);
            if (status == AttentionBlocks.SKIP) continue;
            int k0 = kb * BK, nk = Math.min(BK, Tk - k0), rowsK = roundUp(nk, TILE);
            loadPanels(kSeg, s, b, k0, nk, s.nkv(), kvh, Tk, sc.kp, 0, BK * L, rowsK, 1f);
            loadPanels(vSeg, s, b, k0, nk, s.nkv(), kvh, Tk, sc.vp, 0, BK * L, rowsK, 1f);

            AttentionKernels.scores(sc.kp, 0, BK * L, sc.qT, 0, hsP, sc.s, rowsK);   // sᵀ (keys, queries)
            if (status == AttentionBlocks.PARTIAL) {
                loadKeyMask(mask, s, b, k0, nk, sc);
                visible += AttentionKernels.mask(sc.s, nk, nq, sc.kpos, mask.kDoc() == null ? null : sc.kdoc, sc.qpos,
                        mask.qDoc() == null ? null : sc.qdoc, 0);
            } else {
                visible += (long) nq * nk;
            }
            AttentionKernels.softmaxStep(sc.s, nk, sc.m, sc.lsum, sc.alpha);                // sᵀ <- pᵀ
            AttentionKernels.rescale(sc.o, hsP, hsP, sc.alpha, rowsQ);
            AttentionKernels.accumulateTransposed(sc.s, sc.vp, 0, BK * L, nk, sc.o, 0, hsP, rowsQ, hsP); // o += p·v
        }

        for (int r = 0; r < nq; r++) {
            long lseAt = ((long) b * nh + h) * T + q0 + r;
            int oi = r * hsP;
            if (sc.m[r] == Float.NEGATIVE_INFINITY) { // no visible key: out 0, lse -inf
                Arrays.fill(sc.o, oi, oi + hsP, 0f);
                lseSeg.setAtIndex(Tensor.F32, lseAt, Float.NEGATIVE_INFINITY);
            } else {
                float l = sc.lsum[r];
                FloatVector inv = FloatVector.broadcast(F, 1f / l);
                for (int c = 0; c < hsP; c += L) FloatVector.fromArray(F, sc.o, oi + c).mul(inv).intoArray(sc.o, oi + c);
                lseSeg.setAtIndex(Tensor.F32, lseAt, sc.m[r] + (float) Math.log(l));
            }
            long outAt = (((long) b * T + q0 + r) * nh + h) * hs;
            MemorySegment.copy(sc.o, oi, outSeg, Tensor.F32, outAt * Float.BYTES, hs);
        }
        return visible;
    }

    /**
     * Copies rows [t0, t0+n) of head h of x (B, Tx, heads, hs), times {@code scale}, into dst as a
     * panel block of {@code rows} rows (see AttentionKernels): element (r, c) at
     * dOff + (c / L) * ps + r * L + c % L. Padding columns and rows [n, rows) are zero.
     */
    static void loadPanels(MemorySegment x, AttentionShape s, int b, int t0, int n, int heads, int h, int Tx,
                           float[] dst, int dOff, int ps, int rows, float scale) {
        int hs = s.hs(), hsP = hsPadded(s);
        FloatVector zero = FloatVector.zero(F);
        for (int r = 0; r < rows; r++) {
            int di = dOff + r * L;
            if (r < n) {
                long at = ((((long) b * Tx + t0 + r) * heads + h) * hs) * Float.BYTES;
                for (int c0 = 0; c0 < hsP; c0 += L, di += ps) {
                    FloatVector v = c0 + L <= hs
                            ? FloatVector.fromMemorySegment(F, x, at + (long) c0 * Float.BYTES, ByteOrder.nativeOrder())
                            : FloatVector.fromMemorySegment(F, x, at + (long) c0 * Float.BYTES, ByteOrder.nativeOrder(), F.indexInRange(c0, hs));
                    (scale == 1f ? v : v.mul(scale)).intoArray(dst, di);
                }
            } else {
                for (int c0 = 0; c0 < hsP; c0 += L, di += ps) zero.intoArray(dst, di);
            }
        }
    }

    /**
     * Copies rows [t0, t0+n) of head h of x (B, Tx, heads, hs), times {@code scale}, into dst as
     * transposed blocks of BQ rows: row r, column d at dOff + (r / BQ) * hsP * BQ + d * BQ + r % BQ.
     * Everything up to the last whole block is written; padding is zero.
     */
    static void loadTransposed(MemorySegment x, AttentionShape s, int b, int t0, int n, int heads, int h, int Tx,
                               float[] dst, int dOff, float scale, float[] row) {
        int hs = s.hs(), hsP = hsPadded(s);
        Arrays.fill(dst, dOff, dOff + roundUp(n, BQ) * hsP, 0f);
        for (int r = 0; r < n; r++) {
            long at = (((long) b * Tx + t0 + r) * heads + h) * hs;
            MemorySegment.copy(x, Tensor.F32, at * Float.BYTES, row, 0, hs);
            int di = dOff + r / BQ * hsP * BQ + r % BQ;
            for (int d = 0; d < hs; d++) dst[di + d * BQ] = row[d] * scale;
        }
    }

    /** Positions and documents of key block [k0, k0+nk) of batch row b, for the element-wise mask. */
    static void loadKeyMask(AttentionMask mask, AttentionShape s, int b, int k0, int nk, AttentionScratch sc) {
        System.arraycopy(mask.kPos(), k0, sc.kpos, 0, nk);
        if (mask.kDoc() != null) System.arraycopy(mask.kDoc(), b * s.Tk() + k0, sc.kdoc, 0, nk);
    }

    /**
     * Positions and documents of queries [q0, q0+n) of batch row b into sc.qpos / sc.qdoc at dOff,
     * padded to whole blocks (the padding is excluded from the mask by index).
     */
    static void loadQueryMask(AttentionMask mask, AttentionShape s, int b, int q0, int n, AttentionScratch sc, int dOff) {
        int padded = roundUp(n, BQ);
        System.arraycopy(mask.qPos(), q0, sc.qpos, dOff, n);
        Arrays.fill(sc.qpos, dOff + n, dOff + padded, 0);
        if (mask.qDoc() != null) {
            System.arraycopy(mask.qDoc(), b * s.T() + q0, sc.qdoc, dOff, n);
            Arrays.fill(sc.qdoc, dOff + n, dOff + padded, 0);
        }
    }

    /** x[elem .. elem+n) += factor * a[off .. off+n). */
    static void addInto(MemorySegment x, long elem, float[] a, int off, int n, float factor) {
        long base = elem * Float.BYTES;
        int d = 0;
        for (; d + L <= n; d += L) {
            long at = base + (long) d * Float.BYTES;
            FloatVector.fromMemorySegment(F, x, at, ByteOrder.nativeOrder())
                    .add(FloatVector.fromArray(F, a, off + d).mul(factor))
                    .intoMemorySegment(x, at, ByteOrder.nativeOrder());
        }
        for (; d < n; d++) x.setAtIndex(Tensor.F32, elem + d, x.getAtIndex(Tensor.F32, elem + d) + a[off + d] * factor);
    }
}
