package fourfold.engine.kernels;

import fourfold.engine.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static fourfold.engine.kernels.AttentionKernels.BK;
import static fourfold.engine.kernels.AttentionKernels.BQ;
import static fourfold.engine.kernels.AttentionKernels.TILE;
import static fourfold.engine.kernels.AttentionKernels.roundUp;

/**
 * Attention backward for one (b, kv head): the task owns the dk and dv rows of that kv head and
 * the dq rows of the query heads that read it, so tasks never write the same memory.
 *
 * <p>Per key block (outer loop, dk and dv accumulated in scratch) and per query block of each head
 * of the group: recompute s = q·kᵀ/sqrt(hs) and p = exp(s - lse), then dv += pᵀ·dO,
 * dp = dO·vᵀ, ds = p * (dp - D) with D = rowsum(dO * O), dk += dsᵀ·q/sqrt(hs), dq += ds·k/sqrt(hs).
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
        int tPad = blocks.nqb * BQ; // rows per head in the scratch blocks
        float scale = (float) (1.0 / Math.sqrt(hs));

        // All queries of the group's heads, once: q pre-scaled, dO, lse and D = rowsum(dO * O).
        for (int hh = 0; hh < g; hh++) {
            int h = kvh * g + hh, r0 = hh * tPad;
            Attention.loadRows(x.q(), s, b, 0, T, nh, h, T, sc.q, r0 * hsP, tPad, scale);
            Attention.loadRows(x.dout(), s, b, 0, T, nh, h, T, sc.dout, r0 * hsP, tPad, 1f);
            for (int i = 0; i < tPad; i++) {
                if (i < T) {
                    sc.lse[r0 + i] = x.lse().getAtIndex(Tensor.F32, ((long) b * nh + h) * T + i);
                    long at = (((long) b * T + i) * nh + h) * hs;
                    MemorySegment.copy(x.out(), Tensor.F32, at * Float.BYTES, sc.row, 0, hs);
                    float dd = 0f;
                    for (int d = 0; d < hs; d++) dd += sc.dout[(r0 + i) * hsP + d] * sc.row[d];
                    sc.dd[r0 + i] = dd;
                } else { // padding query: lse -inf gives p = 0, so it adds nothing
                    sc.lse[r0 + i] = Float.NEGATIVE_INFINITY;
                    sc.dd[r0 + i] = 0f;
                }
            }
        }
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
                        Attention.loadRows(x.k(), s, b, k0, nk, nkv, kvh, Tk, sc.kp, 0, BK, 1f);
                        Attention.loadTransposed(x.k(), s, b, k0, nk, kvh, sc.kt, sc.row);
                        Attention.loadTransposed(x.v(), s, b, k0, nk, kvh, sc.vt, sc.row);
                        Attention.loadKeyMask(mask, s, b, k0, nk, sc);
                        Arrays.fill(sc.dk, 0, BK * hsP, 0f);
                        Arrays.fill(sc.dv, 0, BK * hsP, 0f);
                        loaded = true;
                    }
                    int q0 = qb * BQ, nq = Math.min(BQ, T - q0), rows = roundUp(nq, TILE);
                    int r0 = hh * tPad + q0, qOff = r0 * hsP;

                    AttentionKernels.scores(sc.q, qOff, hsP, sc.kt, hs, sc.s, rows);        // s  (rows, BK)
                    if (status == AttentionBlocks.PARTIAL) {
                        visible += AttentionKernels.mask(sc.s, nq, nk, mask.qPos(), q0, mask.qDoc(), b * T, sc.kpos, sc.kdoc);
                    } else {
                        visible += (long) nq * nk;
                    }
                    AttentionKernels.scores(sc.dout, qOff, hsP, sc.vt, hs, sc.dp, rows);    // dp (rows, BK)
                    AttentionKernels.softmaxBackward(sc.s, sc.dp, sc.lse, sc.dd, r0, rows);  // s <- p, dp <- ds
                    // dv += pᵀ·dO and dk += dsᵀ·(q/sqrt(hs)): weights read transposed (stride 1 over keys)
                    AttentionKernels.accumulate(sc.s, 0, 1, BK, sc.dout, qOff, hsP, nq, sc.dv, 0, hsP, rowsK, hsP);
                    AttentionKernels.accumulate(sc.dp, 0, 1, BK, sc.q, qOff, hsP, nq, sc.dk, 0, hsP, rowsK, hsP);
                    // dq += ds·k (scaled by 1/sqrt(hs) when written out)
                    AttentionKernels.accumulate(sc.dp, 0, BK, 1, sc.kp, 0, hsP, nk, sc.dq, qOff, hsP, rows, hsP);
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
