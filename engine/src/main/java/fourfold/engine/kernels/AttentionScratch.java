package fourfold.engine.kernels;

import static fourfold.engine.kernels.AttentionKernels.BK;
import static fourfold.engine.kernels.AttentionKernels.BQ;

/**
 * Per-thread working memory of the attention kernels, grown on demand and reused across calls
 * (no allocation on the hot path). Holds one block of scores, never a T x Tk matrix: the largest
 * arrays are (rows, hsP), the rows being one query block (forward) or the queries of one kv-head
 * group (backward).
 */
final class AttentionScratch {
    private static final ThreadLocal<AttentionScratch> LOCAL = ThreadLocal.withInitial(AttentionScratch::new);

    final float[] s = new float[BK * BQ];      // scores sᵀ, then probabilities pᵀ (BK, BQ)
    final float[] dp = new float[BK * BQ];     // dpᵀ = v·dOᵀ, then dsᵀ            (BK, BQ)
    final float[] m = new float[BQ];           // per query: running max
    final float[] lsum = new float[BQ];        // per query: running sum of p
    final float[] alpha = new float[BQ];       // per query: rescale of one online-softmax step
    final int[] kpos = new int[BK], kdoc = new int[BK]; // the key block's positions and documents
    float[] kp = new float[0], vp = new float[0];       // key / value block in panels  (BK, hsP)
    float[] dk = new float[0], dv = new float[0];       // gradients of the key block   (BK, hsP) row-major
    float[] q = new float[0], qT = new float[0];        // scaled queries: panels (rows, hsP), transposed blocks (hsP, BQ)
    float[] dout = new float[0], doutT = new float[0];  // output gradient, the same two layouts
    float[] o = new float[0], dq = new float[0];        // output / dq accumulators      (rows, hsP) row-major
    float[] lse = new float[0], dd = new float[0];      // per query: log-sum-exp, D = rowsum(dO * O)
    int[] qpos = new int[0], qdoc = new int[0];         // per query: position, document
    float[] row = new float[0], row2 = new float[0];    // one row of hsP values each

    /** Scratch for head size hs (hsP rounded up to vectors) and {@code rows} query rows (a multiple of BQ). */
    static AttentionScratch forThread(int hsP, int rows) {
        AttentionScratch sc = LOCAL.get();
        sc.ensure(hsP, rows);
        return sc;
    }

    private void ensure(int hsP, int rows) {
        if (kp.length < BK * hsP) {
            kp = new float[BK * hsP];
            vp = new float[BK * hsP];
            dk = new float[BK * hsP];
            dv = new float[BK * hsP];
            row = new float[hsP];
            row2 = new float[hsP];
        }
        if (q.length < rows * hsP) {
            q = new float[rows * hsP];
            qT = new float[rows * hsP];
            dout = new float[rows * hsP];
            doutT = new float[rows * hsP];
            o = new float[rows * hsP];
            dq = new float[rows * hsP];
        }
        if (lse.length < rows) {
            lse = new float[rows];
            dd = new float[rows];
            qpos = new int[rows];
            qdoc = new int[rows];
        }
    }
}
