package fourfold.engine.kernels;

import static fourfold.engine.kernels.AttentionKernels.BK;
import static fourfold.engine.kernels.AttentionKernels.BQ;

/**
 * Per-thread working memory of the attention kernels, grown on demand and reused across calls
 * (no allocation on the hot path). Holds one block of scores, never a T x Tk matrix: the largest
 * arrays are (rows, hsP), the rows being the keys of one sequence, one query block (forward) or
 * the queries of one kv-head group (backward).
 */
final class AttentionScratch {
    private static final ThreadLocal<AttentionScratch> LOCAL = ThreadLocal.withInitial(AttentionScratch::new);

    final float[] s = new float[BK * BQ];      // scores sᵀ, then probabilities pᵀ (BK, BQ)
    final float[] dp = new float[BK * BQ];     // dpᵀ = v·dOᵀ, then dsᵀ            (BK, BQ)
    final float[] m = new float[BQ];           // per query: running max
    final float[] lsum = new float[BQ];        // per query: running sum of p
    final float[] alpha = new float[BQ];       // per query: rescale of one online-softmax step
    final int[] qStart = new int[BK / AttentionKernels.TILE]; // causal triangle of a block, per key tile
    final int[] kEnd = new int[BQ / AttentionKernels.TILE];   // and per query tile (AttentionBlocks.trim)
    float[] kp = new float[0], vp = new float[0];       // keys / values in panels       (keyRows, hsP)
    float[] dk = new float[0], dv = new float[0];       // their gradients, row-major   (keyRows, hsP)
    float[] q = new float[0], qT = new float[0];        // scaled queries: panels (rows, hsP), transposed blocks (hsP, BQ)
    float[] dout = new float[0], doutT = new float[0];  // output gradient, the same two layouts
    float[] o = new float[0];                           // output accumulator, row-major (BQ, hsP)
    float[] dq = new float[0];                          // dq accumulator, row-major    (rows, hsP)
    float[] lse = new float[0], dd = new float[0];      // per query: log-sum-exp, D = rowsum(dO * O)
    int[] qpos = new int[0], qdoc = new int[0];         // per query: position, document
    float[] row = new float[0], row2 = new float[0];    // one row of hsP values each

    /** Scratch for rows of hsP floats: {@code rows} query rows and {@code keyRows} key rows (multiples of BQ). */
    static AttentionScratch forThread(int hsP, int rows, int keyRows) {
        AttentionScratch sc = LOCAL.get();
        sc.ensure(hsP, rows, keyRows);
        return sc;
    }

    private void ensure(int hsP, int rows, int keyRows) {
        if (kp.length < keyRows * hsP) {
            kp = new float[keyRows * hsP];
            vp = new float[keyRows * hsP];
            dk = new float[keyRows * hsP];
            dv = new float[keyRows * hsP];
        }
        if (row.length < hsP) {
            row = new float[hsP];
            row2 = new float[hsP];
        }
        if (q.length < rows * hsP) {
            q = new float[rows * hsP];
            qT = new float[rows * hsP];
            dout = new float[rows * hsP];
            doutT = new float[rows * hsP];
            dq = new float[rows * hsP];
        }
        if (o.length < BQ * hsP) o = new float[BQ * hsP];
        if (lse.length < rows) {
            lse = new float[rows];
            dd = new float[rows];
            qpos = new int[rows];
            qdoc = new int[rows];
        }
    }
}
