package fourfold.engine.kernels;

import static fourfold.engine.kernels.AttentionKernels.BK;
import static fourfold.engine.kernels.AttentionKernels.BQ;
import static fourfold.engine.kernels.AttentionKernels.L;

/**
 * Per-thread working memory of the attention kernels, grown on demand and reused across calls
 * (no allocation on the hot path). Holds one block of scores, never a T x Tk matrix: the largest
 * arrays are (rows, head size), the rows being one query block (forward) or the queries of one
 * kv-head group (backward).
 */
final class AttentionScratch {
    private static final ThreadLocal<AttentionScratch> LOCAL = ThreadLocal.withInitial(AttentionScratch::new);

    final float[] s = new float[BQ * BK];      // scores, then probabilities p     (BQ, BK)
    final float[] dp = new float[BQ * BK];     // dp = dO·Vᵀ, then ds             (BQ, BK)
    final float[] m = new float[BQ];           // running max per query
    final float[] lsum = new float[BQ * L];    // running sum per query, one partial per lane
    final int[] kpos = new int[BK];            // positions of the key block
    final int[] kdoc = new int[BK];            // documents of the key block
    float[] kt = new float[0], vt = new float[0];    // key / value block transposed (hs, BK)
    float[] kp = new float[0], vp = new float[0];    // key / value block, rows padded (BK, hsP)
    float[] dk = new float[0], dv = new float[0];    // gradient of the key block     (BK, hsP)
    float[] q = new float[0], o = new float[0];      // scaled queries, output acc    (rows, hsP)
    float[] dout = new float[0], dq = new float[0];  // output gradient, dq acc       (rows, hsP)
    float[] lse = new float[0], dd = new float[0];   // per query: log-sum-exp, D = rowsum(dO * O)
    float[] row = new float[0];                      // one row of hs values

    static AttentionScratch forThread(int hs, int hsP, int rows) {
        AttentionScratch sc = LOCAL.get();
        sc.ensure(hs, hsP, rows);
        return sc;
    }

    private void ensure(int hs, int hsP, int rows) {
        if (kt.length < hs * BK) {
            kt = new float[hs * BK];
            vt = new float[hs * BK];
            row = new float[hs];
        }
        if (kp.length < BK * hsP) {
            kp = new float[BK * hsP];
            vp = new float[BK * hsP];
            dk = new float[BK * hsP];
            dv = new float[BK * hsP];
        }
        if (q.length < rows * hsP) {
            q = new float[rows * hsP];
            o = new float[rows * hsP];
            dout = new float[rows * hsP];
            dq = new float[rows * hsP];
        }
        if (lse.length < rows) {
            lse = new float[rows];
            dd = new float[rows];
        }
    }
}
