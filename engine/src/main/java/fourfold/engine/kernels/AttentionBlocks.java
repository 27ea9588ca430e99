package fourfold.engine.kernels;

import static fourfold.engine.kernels.AttentionKernels.BK;
import static fourfold.engine.kernels.AttentionKernels.BQ;
import static fourfold.engine.kernels.AttentionKernels.TILE;

/**
 * Which (query block, key block) pairs of one attention call need work. From the smallest and
 * largest position (and document id) in each block: a pair is SKIP when no key can be visible to
 * any query (all keys in the future, or disjoint document ranges), FULL when every key is visible
 * to every query (no per-element mask needed), else PARTIAL. Conservative: an unsorted layout is
 * PARTIAL rather than SKIP, which costs time, never correctness.
 */
final class AttentionBlocks {
    static final int SKIP = 0, FULL = 1, PARTIAL = 2;

    final int nqb, nkb;
    private final int T, Tk;
    private final int[] qPos, kPos;
    private final boolean sorted;                         // both position arrays non-decreasing
    private final int[] qMin, qMax, kMin, kMax;          // positions, per block
    private final int[] qdMin, qdMax, kdMin, kdMax;      // documents, per (b, block); null without documents

    AttentionBlocks(AttentionShape s, AttentionMask mask) {
        T = s.T();
        Tk = s.Tk();
        nqb = (T + BQ - 1) / BQ;
        nkb = (Tk + BK - 1) / BK;
        qPos = mask.qPos();
        kPos = mask.kPos();
        sorted = nonDecreasing(qPos) && nonDecreasing(kPos);
        qMin = new int[nqb];
        qMax = new int[nqb];
        kMin = new int[nkb];
        kMax = new int[nkb];
        ranges(mask.qPos(), 0, T, BQ, nqb, qMin, qMax, 0);
        ranges(mask.kPos(), 0, Tk, BK, nkb, kMin, kMax, 0);
        if (mask.qDoc() != null) {
            qdMin = new int[s.B() * nqb];
            qdMax = new int[s.B() * nqb];
            kdMin = new int[s.B() * nkb];
            kdMax = new int[s.B() * nkb];
            for (int b = 0; b < s.B(); b++) {
                ranges(mask.qDoc(), b * T, T, BQ, nqb, qdMin, qdMax, b * nqb);
                ranges(mask.kDoc(), b * Tk, Tk, BK, nkb, kdMin, kdMax, b * nkb);
            }
        } else {
            qdMin = qdMax = kdMin = kdMax = null;
        }
    }

    private static boolean nonDecreasing(int[] v) {
        for (int i = 1; i < v.length; i++) if (v[i] < v[i - 1]) return false;
        return true;
    }

    private static void ranges(int[] v, int off, int n, int block, int blocks, int[] min, int[] max, int out) {
        for (int blk = 0; blk < blocks; blk++) {
            int lo = Integer.MAX_VALUE, hi = Integer.MIN_VALUE;
            for (int i = blk * block; i < Math.min(n, (blk + 1) * block); i++) {
                lo = Math.min(lo, v[off + i]);
                hi = Math.max(hi, v[off + i]);
            }
            min[out + blk] = lo;
            max[out + blk] = hi;
        }
    }

    int status(int b, int qb, int kb) {
        if (kMin[kb] > qMax[qb]) return SKIP; // every key comes after every query
        boolean full = kMax[kb] <= qMin[qb] && (kb + 1) * BK <= Tk; // a short last block has padding keys
        if (qdMin != null) {
            int qi = b * nqb + qb, ki = b * nkb + kb;
            if (qdMax[qi] < kdMin[ki] || kdMax[ki] < qdMin[qi]) return SKIP;
            full &= qdMin[qi] == qdMax[qi] && kdMin[ki] == kdMax[ki] && qdMin[qi] == kdMin[ki];
        }
        return full ? FULL : PARTIAL;
    }

    /**
     * The causal triangle inside a PARTIAL block (qb, kb), when positions are sorted: for each
     * tile of TILE keys, the first query column that can see any of them (qStart), and for each
     * tile of TILE queries, how many leading keys any of them can see (kEnd). Pairs outside are
     * invisible (documents only hide more), so the kernels skip them: the diagonal block costs
     * about half. Returns false, filling nothing, when positions are not sorted.
     */
    boolean trim(int qb, int kb, int[] qStart, int[] kEnd) {
        if (!sorted) return false;
        int q0 = qb * BQ, nq = Math.min(BQ, T - q0), k0 = kb * BK, nk = Math.min(BK, Tk - k0);
        int c = 0;
        for (int kt = 0; kt * TILE < nk; kt++) {
            int firstKey = kPos[k0 + kt * TILE]; // the tile's smallest position
            while (c < nq && qPos[q0 + c] < firstKey) c++;
            qStart[kt] = c;
        }
        int j = 0;
        for (int qt = 0; qt * TILE < nq; qt++) {
            int lastQuery = qPos[q0 + Math.min(qt * TILE + TILE - 1, nq - 1)]; // the tile's largest position
            while (j < nk && kPos[k0 + j] <= lastQuery) j++;
            kEnd[qt] = j;
        }
        return true;
    }
}
