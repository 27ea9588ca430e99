package fourfold.engine.kernels;

import fourfold.engine.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static fourfold.engine.kernels.AttentionKernels.BK;
import static fourfold.engine.kernels.AttentionKernels.BQ;
import static fourfold.engine.kernels.AttentionKernels.L;
import static fourfold.engine.kernels.AttentionKernels.TILE;
import static fourfold.engine.kernels.AttentionKernels.roundUp;

/**
 * Attention backward for one (b, kv head): the task owns the dk and dv rows of that kv head and
 * the dq rows of the query heads that read it, so tasks never write the same memory.
 *
 * <p>Per key block (outer loop, dk and dv accumulated in scratch) and per query block of each head
 * of the group, on transposed blocks (keys x queries): recompute sᵀ = k·qᵀ/sqrt(hs) and
 * pᵀ = exp(sᵀ - lse), then dv += pᵀ·dO, dpᵀ = v·dOᵀ, dsᵀ = pᵀ * (dpᵀ - D) with D = rowsum(dO * O),
 * dk += dsᵀ·q/sqrt(hs) and dq += ds·k/sqrt(hs).
 */
final class AttentionBackward {
    private AttentionBackward() {}

    record Segments(MemorySegment dout, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment out,
                    MemorySegment lse, MemorySegment dq, MemorySegment dk, MemorySegment dv) {}

    /** Returns the number of visible (query, key) pairs handled (for the flop count). */
    static long task(int task, Segments x, AttentionShape s, AttentionMask mask, AttentionBlocks blocks, AttentionScratch sc) {
        int T = s.T(), Tk = s.Tk(), nh = s.nh(), nkv = s.nkv(), hs = s.hs(), g = s.group();
        int hsP = Attention.hsPadded(s);
        int b = task / nkv, kvh = task % nkv;
        int tPad = blocks.nqb * BQ; // query rows per head in the scratch blocks
        int ps = g * tPad * L;      // panel stride of q and dO
        float scale = (float) (1.0 / Math.sqrt(hs));

        // All queries of the group's heads, once: q (pre-scaled) and dO as panels and as
        // transposed blocks, lse, and D = rowsum(dO * O).
        for (int hh = 0; hh < g; hh++) {
            int h = kvh * g + hh, r0 = hh * tPad;
            Attention.loadPanels(x.q(), s, b, 0, T, nh, h, T, sc.q, r0 * L, ps, tPad, scale);
            Attention.loadTransposed(x.q(), s, b, 0, T, nh, h, T, sc.qT, r0 * hsP, scale, sc.row);
            Attention.loadPanels(x.dout(), s, b, 0, T, nh, h, T, sc.dout, r0 * L, ps, tPad, 1f);
            Attention.loadTransposed(x.dout(), s, b, 0, T, nh, h, T, sc.doutT, r0 * hsP, 1f, sc.row);
            for (int i = 0; i < tPad; i++) {
                if (i < T) {
                    sc.lse[r0 + i] = x.lse().getAtIndex(Tensor.F32, ((long) b * nh + h) * T + i);
                    long at = (((long) b * T + i) * nh + h) * hs;
                    MemorySegment.copy(x.out(), Tensor.F32, at * Float.BYTES, sc.row, 0, hs);
                    MemorySegment.copy(x.dout(), Tensor.F32, at * Float.BYTES, sc.row2, 0, hs);
                    float dd = 0f;
                    for (int d = 0; d < hs; d++) dd += sc.row2[d] * sc.row[d];
                    sc.dd[r0 + i] = dd;
                } else { // padding query: lse -inf gives p = 0, so it adds nothing
                    sc.lse[r0 + i] = Float.NEGATIVE_INFINITY;
                    sc.dd[r0 + i] = 0f;
                }
            }
        }
        Attention.loadQueryMask(mask, s, b, 0, T, sc, 0);
        int[] kdoc = mask.kDoc() == null ? null : sc.kdoc, qdoc = mask.qDoc() == null ? null : sc.qdoc;
        Arrays.fill(sc.dq, 0, g * tPad * hsP, 0f);

        long visible = 0;
        for (int kb = 0; kb < blocks.nkb; kb++) {
            int k0 = kb * BK, nk = Math.min(BK, Tk - k0), rowsK = roundUp(nk, TILE);
            boolean loaded = false;
            for (int hh = 0; hh < g; hh++) {
                for (int qb = 0; qb < blocks.nqb; qb++) {
                    int status = blocks.status(b, qb, kb);
                    if (status == AttentionBlocks.SKIP) continue;
                    if (!loaded) { // the key block, once, and only if some query block sees it
                        Attention.loadPanels(x.k(), s, b, k0, nk, nkv, kvh, Tk, sc.kp, 0, BK * L, rowsK, 1f);
                        Attention.loadPanels(x.v(), s, b, k0, nk, nkv, kvh, Tk, sc.vp, 0, BK * L, rowsK, 1f);
                        Attention.loadKeyMask(mask, s, b, k0, nk, sc);
                        Arrays.fill(sc.dk, 0, BK * hsP, 0f);
                        Arrays.fill(sc.dv, 0, BK * hsP, 0f);
                        loaded = true;
                    }
                    int q0 = qb * BQ, nq = Math.min(BQ, T - q0), rowsQ = roundUp(nq, TILE);
                    int r0 = hh * tPad + q0;

                    AttentionKernels.scores(sc.kp, 0, BK * L, sc.qT, r0 * hsP, hsP, sc.s, rowsK);     // sᵀ  (keys, queries)
                    if (status == AttentionBlocks.PARTIAL) {
                        visible += AttentionKernels.mask(sc.s, nk, nq, sc.kpos, kdoc, sc.qpos, qdoc, q0);
                    } else {
                        visible += (long) nq * nk;
                    }
                    AttentionKernels.scores(sc.vp, 0, BK * L, sc.doutT, r0 * hsP, hsP, sc.dp, rowsK); // dpᵀ (keys, queries)
                    AttentionKernels.softmaxBackward(sc.s, sc.dp, nk, sc.lse, sc.dd, r0);            // pᵀ, dsᵀ
                    // dv += pᵀ·dO and dk += dsᵀ·(q/sqrt(hs)), over the nq real queries
                    AttentionKernels.accumulate(sc.s, sc.dout, r0 * L, ps, nq, sc.dv, 0, hsP, rowsK, hsP);
                    AttentionKernels.accumulate(sc.dp, sc.q, r0 * L, ps, nq, sc.dk, 0, hsP, rowsK, hsP);
                    // dq += ds·k (times 1/sqrt(hs) when written out)
                    AttentionKernels.accumulateTransposed(sc.dp, sc.kp, 0, BK * L, nk, sc.dq, r0 * hsP, hsP, rowsQ, hsP);
                }
            }
            if (!loaded) continue;
            for (int j = 0; j < nk; j++) {
                long at = (((long) b * Tk + k0 + j) * nkv + kvh) * hs;
                Attention.addInto(x.dk(), at, sc.dk, j * hsP, hs, 1f);
                Attention.addInto(x.dv(), at, sc.dv, j * hsP, hs, 1f);
            }
        }

        for (int hh = 0; hh < g; hh++) {
            int h = kvh * g + hh;
            for (int i = 0; i < T; i++) {
                long at = (((long) b * T + i) * nh + h) * hs;
                Attention.addInto(x.dq(), at, sc.dq, (hh * tPad + i) * hsP, hs, scale);
            }
        }
        return visible;
    }
}
