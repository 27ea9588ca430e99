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
 * <p>Everything the task reads is loaded once: k and v as panels; q (pre-scaled) and dO of the
 * group's heads as panels and as transposed blocks; lse and D = rowsum(dO * O) per query. Then
 * per key block and per query block that sees it, on transposed blocks (keys x queries):
 * sᵀ = k·qᵀ/sqrt(hs), pᵀ = exp(sᵀ - lse), dv += pᵀ·dO, dpᵀ = v·dOᵀ, dsᵀ = pᵀ * (dpᵀ - D),
 * dk += dsᵀ·q/sqrt(hs), dq += ds·k/sqrt(hs). The sums go to scratch and are added to dq, dk, dv
 * once at the end.
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
        int tPad = blocks.nqb * BQ;   // query rows per head in scratch, padded to whole blocks
        int ps = g * tPad * L;        // panel stride of q and dO (all heads of the group)
        int kRows = blocks.nkb * BK, kps = kRows * L;
        float scale = (float) (1.0 / Math.sqrt(hs));
        int[] kdoc = mask.kDoc();

        AttentionIO.loadPanels(x.k(), s, b, 0, Tk, nkv, kvh, Tk, sc.kp, 0, kps, kRows, 1f);
        AttentionIO.loadPanels(x.v(), s, b, 0, Tk, nkv, kvh, Tk, sc.vp, 0, kps, kRows, 1f);
        for (int hh = 0; hh < g; hh++) {
            int h = kvh * g + hh, r0 = hh * tPad;
            AttentionIO.loadPanels(x.q(), s, b, 0, T, nh, h, T, sc.q, r0 * L, ps, tPad, scale);
            AttentionIO.transposePanels(sc.q, r0 * L, ps, tPad, hsP, sc.qT, r0 * hsP);
            AttentionIO.loadPanels(x.dout(), s, b, 0, T, nh, h, T, sc.dout, r0 * L, ps, tPad, 1f);
            AttentionIO.transposePanels(sc.dout, r0 * L, ps, tPad, hsP, sc.doutT, r0 * hsP);
            for (int i = 0; i < tPad; i++) {
                if (i < T) {
                    sc.lse[r0 + i] = x.lse().getAtIndex(Tensor.F32, ((long) b * nh + h) * T + i);
                    sc.dd[r0 + i] = AttentionIO.dot(x.dout(), x.out(), AttentionIO.rowAt(s, b, i, nh, h, T), hs, sc.row);
                } else { // padding query: lse -inf gives p = 0, so it adds nothing
                    sc.lse[r0 + i] = Float.NEGATIVE_INFINITY;
                    sc.dd[r0 + i] = 0f;
                }
            }
        }
        AttentionIO.loadQueryMask(mask, s, b, 0, T, sc.qpos, sc.qdoc, 0);
        Arrays.fill(sc.dq, 0, g * tPad * hsP, 0f);
        Arrays.fill(sc.dk, 0, kRows * hsP, 0f);
        Arrays.fill(sc.dv, 0, kRows * hsP, 0f);

        long visible = 0;
        for (int kb = 0; kb < blocks.nkb; kb++) {
            int k0 = kb * BK, nk = Math.min(BK, Tk - k0), rowsK = roundUp(nk, TILE);
            for (int hh = 0; hh < g; hh++) {
                for (int qb = 0; qb < blocks.nqb; qb++) {
                    int status = blocks.status(b, qb, kb);
                    if (status == AttentionBlocks.SKIP) continue;
                    int q0 = qb * BQ, nq = Math.min(BQ, T - q0), rowsQ = roundUp(nq, TILE);
                    int r0 = hh * tPad + q0;

                    boolean trim = status == AttentionBlocks.PARTIAL && blocks.trim(qb, kb, sc.qStart, sc.kEnd);
                    int[] qStart = trim ? sc.qStart : null, kEnd = trim ? sc.kEnd : null;
                    AttentionKernels.scores(sc.kp, k0 * L, kps, sc.qT, r0 * hsP, hsP, sc.s, rowsK, qStart);     // sᵀ  (keys, queries)
                    if (status == AttentionBlocks.PARTIAL) {
                        visible += AttentionKernels.mask(sc.s, nk, nq, mask.kPos(), k0, kdoc, b * Tk + k0, sc.qpos, sc.qdoc, q0);
                    } else {
                        visible += (long) nq * nk;
                    }
                    AttentionKernels.scores(sc.vp, k0 * L, kps, sc.doutT, r0 * hsP, hsP, sc.dp, rowsK, qStart); // dpᵀ (keys, queries)
                    AttentionKernels.softmaxBackward(sc.s, sc.dp, nk, sc.lse, sc.dd, r0);              // pᵀ, dsᵀ
                    // dv += pᵀ·dO and dk += dsᵀ·(q/sqrt(hs)), over the nq real queries
                    AttentionKernels.accumulate(sc.s, sc.dout, r0 * L, ps, nq, sc.dv, k0 * hsP, hsP, rowsK, hsP, qStart);
                    AttentionKernels.accumulate(sc.dp, sc.q, r0 * L, ps, nq, sc.dk, k0 * hsP, hsP, rowsK, hsP, qStart);
                    // dq += ds·k (times 1/sqrt(hs) when written out)
                    AttentionKernels.accumulateTransposed(sc.dp, sc.kp, k0 * L, kps, nk, sc.dq, r0 * hsP, hsP, rowsQ, hsP, kEnd);
                }
            }
        }

        for (int j = 0; j < Tk; j++) {
            long at = AttentionIO.rowAt(s, b, j, nkv, kvh, Tk);
            AttentionIO.addRow(x.dk(), at, sc.dk, j * hsP, hs, 1f);
            AttentionIO.addRow(x.dv(), at, sc.dv, j * hsP, hs, 1f);
        }
        for (int hh = 0; hh < g; hh++) {
            int h = kvh * g + hh;
            for (int i = 0; i < T; i++) {
                AttentionIO.addRow(x.dq(), AttentionIO.rowAt(s, b, i, nh, h, T), sc.dq, (hh * tPad + i) * hsP, hs, scale);
            }
        }
        return visible;
    }
}
