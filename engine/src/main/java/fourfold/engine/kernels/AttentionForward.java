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
 * Attention forward for one (b, head): k and v of its kv head are read once into panels, then
 * each block of BQ queries walks the key blocks it can see with an online softmax: per block,
 * sᵀ = k·qᵀ/sqrt(hs), the running max m and sum l per query are updated, the output so far is
 * rescaled by exp(m_old - m_new), and o += p·v. At the end out = o / l and lse = m + log(l).
 */
final class AttentionForward {
    private AttentionForward() {}

    record Segments(MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment out, MemorySegment lse) {}

    /** Returns the number of visible (query, key) pairs (for the flop count). */
    static long task(int task, Segments x, AttentionShape s, AttentionMask mask, AttentionBlocks blocks, AttentionScratch sc) {
        int T = s.T(), Tk = s.Tk(), nh = s.nh(), hs = s.hs(), hsP = Attention.hsPadded(s);
        int b = task / nh, h = task % nh, kvh = h / s.group();
        int kRows = blocks.nkb * BK, kps = kRows * L; // k and v panels: all keys, padded to whole blocks
        float scale = (float) (1.0 / Math.sqrt(hs));
        int[] kdoc = mask.kDoc();

        AttentionIO.loadPanels(x.k(), s, b, 0, Tk, s.nkv(), kvh, Tk, sc.kp, 0, kps, kRows, 1f);
        AttentionIO.loadPanels(x.v(), s, b, 0, Tk, s.nkv(), kvh, Tk, sc.vp, 0, kps, kRows, 1f);

        long visible = 0;
        for (int qb = 0; qb < blocks.nqb; qb++) {
            int q0 = qb * BQ, nq = Math.min(BQ, T - q0), rowsQ = roundUp(nq, TILE);
            // qᵀ of the block, pre-scaled by 1/sqrt(hs): (hsP, BQ), padding zero
            AttentionIO.loadPanels(x.q(), s, b, q0, nq, nh, h, T, sc.q, 0, BQ * L, BQ, scale);
            AttentionIO.transposePanels(sc.q, 0, BQ * L, BQ, hsP, sc.qT, 0);
            AttentionIO.loadQueryMask(mask, s, b, q0, nq, sc.qpos, sc.qdoc, 0);
            Arrays.fill(sc.m, Float.NEGATIVE_INFINITY);
            Arrays.fill(sc.lsum, 0f);
            Arrays.fill(sc.o, 0, BQ * hsP, 0f);

            for (int kb = 0; kb < blocks.nkb; kb++) {
                int status = blocks.status(b, qb, kb);
                if (status == AttentionBlocks.SKIP) continue;
                int k0 = kb * BK, nk = Math.min(BK, Tk - k0), rowsK = roundUp(nk, TILE);
                boolean trim = status == AttentionBlocks.PARTIAL && blocks.trim(qb, kb, sc.qStart, sc.kEnd);
                int[] qStart = trim ? sc.qStart : null, kEnd = trim ? sc.kEnd : null;
                AttentionKernels.scores(sc.kp, k0 * L, kps, sc.qT, 0, hsP, sc.s, rowsK, qStart);   // sᵀ (keys, queries)
                if (status == AttentionBlocks.PARTIAL) {
                    visible += AttentionKernels.mask(sc.s, nk, nq, mask.kPos(), k0, kdoc, b * Tk + k0, sc.qpos, sc.qdoc, 0);
                } else {
                    visible += (long) nq * nk;
                }
                AttentionKernels.softmaxStep(sc.s, nk, nq, kEnd, sc.m, sc.lsum, sc.alpha);             // sᵀ <- pᵀ
                AttentionKernels.rescale(sc.o, hsP, hsP, sc.alpha, rowsQ);
                AttentionKernels.accumulateTransposed(sc.s, sc.vp, k0 * L, kps, nk, sc.o, 0, hsP, rowsQ, hsP, kEnd); // o += p·v
            }

            for (int r = 0; r < nq; r++) {
                long lseAt = (((long) b * nh + h) * T + q0 + r) * Float.BYTES;
                long outAt = AttentionIO.rowAt(s, b, q0 + r, nh, h, T);
                if (sc.m[r] == Float.NEGATIVE_INFINITY) { // no visible key: out 0, lse -inf
                    AttentionIO.storeRow(x.out(), outAt, sc.o, r * hsP, hs, 0f);
                    x.lse().set(Tensor.F32, lseAt, Float.NEGATIVE_INFINITY);
                } else {
                    float l = sc.lsum[r];
                    AttentionIO.storeRow(x.out(), outAt, sc.o, r * hsP, hs, 1f / l);
                    x.lse().set(Tensor.F32, lseAt, sc.m[r] + (float) Math.log(l));
                }
            }
        }
        return visible;
    }
}
