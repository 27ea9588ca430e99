package fourfold.engine.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The inner loops of blocked attention, on per-thread heap scratch: a block of scores, the masked
 * online softmax, and the weighted sums. Vectors run along keys for scores (so no horizontal sum
 * per dot product) and along the head dimension for weighted sums; the other operand is broadcast.
 *
 * <p>Everything here is lane-wise or reduced in a fixed order (no float {@code reduceLanes(ADD)},
 * whose order may differ between the interpreter and compiled code), so results are bitwise
 * reproducible.
 */
final class AttentionKernels {
    private AttentionKernels() {}

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> I = F.withLanes(int.class);
    static final int L = F.length();
    /** Queries per block (a multiple of the 8-row register tile). */
    static final int BQ = 32;
    /** Keys per block: two vectors, the width of the score tile. */
    static final int BK = 2 * L;
    /** Rows of the register tiles. */
    static final int TILE = 8;

    static int roundUp(int n, int m) {
        return (n + m - 1) / m * m;
    }

    /**
     * c[r*BK + j] = sum_d a[aOff + r*lda + d] * bt[d*BK + j] for r in [0, rows), j in [0, BK):
     * a block of scores from a row block A (rows, hs) and a transposed key block Bt (hs, BK).
     * rows is a multiple of TILE.
     */
    static void scores(float[] a, int aOff, int lda, float[] bt, int hs, float[] c, int rows) {
        for (int r0 = 0; r0 < rows; r0 += TILE) {
            int a0 = aOff + r0 * lda;
            FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F);
            FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F);
            FloatVector c20 = FloatVector.zero(F), c21 = FloatVector.zero(F);
            FloatVector c30 = FloatVector.zero(F), c31 = FloatVector.zero(F);
            FloatVector c40 = FloatVector.zero(F), c41 = FloatVector.zero(F);
            FloatVector c50 = FloatVector.zero(F), c51 = FloatVector.zero(F);
            FloatVector c60 = FloatVector.zero(F), c61 = FloatVector.zero(F);
            FloatVector c70 = FloatVector.zero(F), c71 = FloatVector.zero(F);
            for (int d = 0; d < hs; d++) {
                FloatVector b0 = FloatVector.fromArray(F, bt, d * BK);
                FloatVector b1 = FloatVector.fromArray(F, bt, d * BK + L);
                int ai = a0 + d;
                FloatVector x;
                x = FloatVector.broadcast(F, a[ai]);
                c00 = b0.fma(x, c00); c01 = b1.fma(x, c01);
                x = FloatVector.broadcast(F, a[ai + lda]);
                c10 = b0.fma(x, c10); c11 = b1.fma(x, c11);
                x = FloatVector.broadcast(F, a[ai + 2 * lda]);
                c20 = b0.fma(x, c20); c21 = b1.fma(x, c21);
                x = FloatVector.broadcast(F, a[ai + 3 * lda]);
                c30 = b0.fma(x, c30); c31 = b1.fma(x, c31);
                x = FloatVector.broadcast(F, a[ai + 4 * lda]);
                c40 = b0.fma(x, c40); c41 = b1.fma(x, c41);
                x = FloatVector.broadcast(F, a[ai + 5 * lda]);
                c50 = b0.fma(x, c50); c51 = b1.fma(x, c51);
                x = FloatVector.broadcast(F, a[ai + 6 * lda]);
                c60 = b0.fma(x, c60); c61 = b1.fma(x, c61);
                x = FloatVector.broadcast(F, a[ai + 7 * lda]);
                c70 = b0.fma(x, c70); c71 = b1.fma(x, c71);
            }
            int ci = r0 * BK;
            c00.intoArray(c, ci); c01.intoArray(c, ci + L); ci += BK;
            c10.intoArray(c, ci); c11.intoArray(c, ci + L); ci += BK;
            c20.intoArray(c, ci); c21.intoArray(c, ci + L); ci += BK;
            c30.intoArray(c, ci); c31.intoArray(c, ci + L); ci += BK;
            c40.intoArray(c, ci); c41.intoArray(c, ci + L); ci += BK;
            c50.intoArray(c, ci); c51.intoArray(c, ci + L); ci += BK;
            c60.intoArray(c, ci); c61.intoArray(c, ci + L); ci += BK;
            c70.intoArray(c, ci); c71.intoArray(c, ci + L);
        }
    }

    /**
     * c[cOff + r*ldc + col] += sum_k w[wOff + r*wr + k*wk] * x[k*ldx + col] for r in [0, rows),
     * k in [0, K), col in [0, cols): a weighted sum of the rows of X (K, cols). The weight strides
     * (wr, wk) read W either as it is stored (BK, 1) or transposed (1, BK). rows is a multiple of
     * TILE, cols a multiple of L.
     */
    static void accumulate(float[] w, int wOff, int wr, int wk, float[] x, int xOff, int ldx, int K,
                           float[] c, int cOff, int ldc, int rows, int cols) {
        for (int r0 = 0; r0 < rows; r0 += TILE) {
            int w0 = wOff + r0 * wr;
            int col = 0;
            for (; col + 2 * L <= cols; col += 2 * L) {
                int ci = cOff + r0 * ldc + col;
                FloatVector c00 = FloatVector.fromArray(F, c, ci), c01 = FloatVector.fromArray(F, c, ci + L);
                FloatVector c10 = FloatVector.fromArray(F, c, ci + ldc), c11 = FloatVector.fromArray(F, c, ci + ldc + L);
                FloatVector c20 = FloatVector.fromArray(F, c, ci + 2 * ldc), c21 = FloatVector.fromArray(F, c, ci + 2 * ldc + L);
                FloatVector c30 = FloatVector.fromArray(F, c, ci + 3 * ldc), c31 = FloatVector.fromArray(F, c, ci + 3 * ldc + L);
                FloatVector c40 = FloatVector.fromArray(F, c, ci + 4 * ldc), c41 = FloatVector.fromArray(F, c, ci + 4 * ldc + L);
                FloatVector c50 = FloatVector.fromArray(F, c, ci + 5 * ldc), c51 = FloatVector.fromArray(F, c, ci + 5 * ldc + L);
                FloatVector c60 = FloatVector.fromArray(F, c, ci + 6 * ldc), c61 = FloatVector.fromArray(F, c, ci + 6 * ldc + L);
                FloatVector c70 = FloatVector.fromArray(F, c, ci + 7 * ldc), c71 = FloatVector.fromArray(F, c, ci + 7 * ldc + L);
                for (int k = 0; k < K; k++) {
                    int xi = xOff + k * ldx + col;
                    FloatVector x0 = FloatVector.fromArray(F, x, xi);
                    FloatVector x1 = FloatVector.fromArray(F, x, xi + L);
                    int wi = w0 + k * wk;
                    FloatVector s;
                    s = FloatVector.broadcast(F, w[wi]);
                    c00 = x0.fma(s, c00); c01 = x1.fma(s, c01);
                    s = FloatVector.broadcast(F, w[wi + wr]);
                    c10 = x0.fma(s, c10); c11 = x1.fma(s, c11);
                    s = FloatVector.broadcast(F, w[wi + 2 * wr]);
                    c20 = x0.fma(s, c20); c21 = x1.fma(s, c21);
                    s = FloatVector.broadcast(F, w[wi + 3 * wr]);
                    c30 = x0.fma(s, c30); c31 = x1.fma(s, c31);
                    s = FloatVector.broadcast(F, w[wi + 4 * wr]);
                    c40 = x0.fma(s, c40); c41 = x1.fma(s, c41);
                    s = FloatVector.broadcast(F, w[wi + 5 * wr]);
                    c50 = x0.fma(s, c50); c51 = x1.fma(s, c51);
                    s = FloatVector.broadcast(F, w[wi + 6 * wr]);
                    c60 = x0.fma(s, c60); c61 = x1.fma(s, c61);
                    s = FloatVector.broadcast(F, w[wi + 7 * wr]);
                    c70 = x0.fma(s, c70); c71 = x1.fma(s, c71);
                }
                c00.intoArray(c, ci); c01.intoArray(c, ci + L); ci += ldc;
                c10.intoArray(c, ci); c11.intoArray(c, ci + L); ci += ldc;
                c20.intoArray(c, ci); c21.intoArray(c, ci + L); ci += ldc;
                c30.intoArray(c, ci); c31.intoArray(c, ci + L); ci += ldc;
                c40.intoArray(c, ci); c41.intoArray(c, ci + L); ci += ldc;
                c50.intoArray(c, ci); c51.intoArray(c, ci + L); ci += ldc;
                c60.intoArray(c, ci); c61.intoArray(c, ci + L); ci += ldc;
                c70.intoArray(c, ci); c71.intoArray(c, ci + L);
            }
            if (col < cols) { // one vector of columns left (cols is an odd number of vectors)
                int ci = cOff + r0 * ldc + col;
                FloatVector c0 = FloatVector.fromArray(F, c, ci), c1 = FloatVector.fromArray(F, c, ci + ldc);
                FloatVector c2 = FloatVector.fromArray(F, c, ci + 2 * ldc), c3 = FloatVector.fromArray(F, c, ci + 3 * ldc);
                FloatVector c4 = FloatVector.fromArray(F, c, ci + 4 * ldc), c5 = FloatVector.fromArray(F, c, ci + 5 * ldc);
                FloatVector c6 = FloatVector.fromArray(F, c, ci + 6 * ldc), c7 = FloatVector.fromArray(F, c, ci + 7 * ldc);
                for (int k = 0; k < K; k++) {
                    FloatVector x0 = FloatVector.fromArray(F, x, xOff + k * ldx + col);
                    int wi = w0 + k * wk;
                    c0 = x0.fma(FloatVector.broadcast(F, w[wi]), c0);
                    c1 = x0.fma(FloatVector.broadcast(F, w[wi + wr]), c1);
                    c2 = x0.fma(FloatVector.broadcast(F, w[wi + 2 * wr]), c2);
                    c3 = x0.fma(FloatVector.broadcast(F, w[wi + 3 * wr]), c3);
                    c4 = x0.fma(FloatVector.broadcast(F, w[wi + 4 * wr]), c4);
                    c5 = x0.fma(FloatVector.broadcast(F, w[wi + 5 * wr]), c5);
                    c6 = x0.fma(FloatVector.broadcast(F, w[wi + 6 * wr]), c6);
                    c7 = x0.fma(FloatVector.broadcast(F, w[wi + 7 * wr]), c7);
                }
                c0.intoArray(c, ci); c1.intoArray(c, ci + ldc); c2.intoArray(c, ci + 2 * ldc); c3.intoArray(c, ci + 3 * ldc);
                c4.intoArray(c, ci + 4 * ldc); c5.intoArray(c, ci + 5 * ldc); c6.intoArray(c, ci + 6 * ldc); c7.intoArray(c, ci + 7 * ldc);
            }
        }
    }

    /**
     * Sets the scores of invisible (query, key) pairs to -infinity in rows [0, nq) of a score block,
     * and of the padding keys [nk, BK). kpos/kdoc hold the block's key positions and documents.
     * Returns the number of visible pairs (for the flop count).
     */
    static long mask(float[] s, int nq, int nk, int[] qPos, int q0, int[] qDoc, int qDocOff,
                     int[] kpos, int[] kdoc) {
        FloatVector ninf = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        long visible = 0;
        for (int r = 0; r < nq; r++) {
            int qp = qPos[q0 + r];
            int qd = qDoc == null ? 0 : qDoc[qDocOff + q0 + r];
            for (int j = 0; j < BK; j += L) {
                VectorMask<Integer> vis = IntVector.fromArray(I, kpos, j).compare(VectorOperators.LE, qp);
                if (qDoc != null) vis = vis.and(IntVector.fromArray(I, kdoc, j).compare(VectorOperators.EQ, qd));
                if (j + L > nk) vis = vis.and(I.indexInRange(j, nk));
                visible += vis.trueCount();
                FloatVector sv = FloatVector.fromArray(F, s, r * BK + j);
                sv.blend(ninf, vis.not().cast(F)).intoArray(s, r * BK + j);
            }
        }
        return visible;
    }

    /**
     * Online-softmax step for rows [0, rows) of a score block s (rows, BK): updates the running max
     * m[r] and the per-lane running sums lsum[r*L ..], rescales the accumulated output o[r*ldo ..]
     * (cols wide) by exp(m_old - m_new), and overwrites s with p = exp(s - m_new). A row that has
     * seen no visible key keeps m = -infinity and gets p = 0 (no NaN).
     */
    static void softmaxStep(float[] s, float[] m, float[] lsum, float[] o, int ldo, int cols, int rows) {
        FloatVector zero = FloatVector.zero(F);
        for (int r = 0; r < rows; r++) {
            int si = r * BK;
            FloatVector s0 = FloatVector.fromArray(F, s, si);
            FloatVector s1 = FloatVector.fromArray(F, s, si + L);
            float blockMax = s0.max(s1).reduceLanes(VectorOperators.MAX); // max is exact in any order
            float mOld = m[r];
            float mNew = Math.max(mOld, blockMax);
            if (mNew == Float.NEGATIVE_INFINITY) { // nothing visible yet: p = 0, state unchanged
                zero.intoArray(s, si);
                zero.intoArray(s, si + L);
                continue;
            }
            FloatVector mv = FloatVector.broadcast(F, mNew);
            FloatVector p0 = exp(s0.sub(mv));
            FloatVector p1 = exp(s1.sub(mv));
            p0.intoArray(s, si);
            p1.intoArray(s, si + L);
            FloatVector l = FloatVector.fromArray(F, lsum, r * L);
            if (mOld != mNew) {
                // exp(mOld - mNew) is 0 when mOld = -inf; one lane of the vector exp keeps it bitwise
                // identical to the p's (no scalar Math.exp).
                FloatVector alpha = exp(FloatVector.broadcast(F, mOld - mNew));
                l = l.mul(alpha);
                int oi = r * ldo;
                for (int c = 0; c < cols; c += L) {
                    FloatVector.fromArray(F, o, oi + c).mul(alpha).intoArray(o, oi + c);
                }
                m[r] = mNew;
            }
            l.add(p0).add(p1).intoArray(lsum, r * L);
        }
    }

    /**
     * Backward: p = exp(s - lse) over rows [0, rows) (masked scores are -infinity and give 0; a row
     * with lse = -infinity, no visible key or padding, gives 0), then ds = p * (dp - D) in dp.
     */
    static void softmaxBackward(float[] s, float[] dp, float[] lse, float[] dd, int rOff, int rows) {
        FloatVector zero = FloatVector.zero(F);
        for (int r = 0; r < rows; r++) {
            float l = lse[rOff + r];
            int si = r * BK;
            if (l == Float.NEGATIVE_INFINITY) {
                for (int j = 0; j < BK; j += L) {
                    zero.intoArray(s, si + j);
                    zero.intoArray(dp, si + j);
                }
                continue;
            }
            FloatVector lv = FloatVector.broadcast(F, l);
            FloatVector dv = FloatVector.broadcast(F, dd[rOff + r]);
            for (int j = 0; j < BK; j += L) {
                FloatVector p = exp(FloatVector.fromArray(F, s, si + j).sub(lv));
                p.intoArray(s, si + j);
                p.mul(FloatVector.fromArray(F, dp, si + j).sub(dv)).intoArray(dp, si + j);
            }
        }
    }

    /** Sum of the L lanes at v[off ..] in a fixed order. */
    static float sumLanes(float[] v, int off) {
        float sum = 0f;
        for (int i = 0; i < L; i++) sum += v[off + i];
        return sum;
    }

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693145751953125f; // 0.6931471805599453 split so n*LN2_HI is exact
    private static final float LN2_LO = 1.428606765330187045e-6f;
    private static final float ROUND_MAGIC = 12582912f; // 1.5 * 2^23: adding it rounds to an integer
    private static final float EXP_MIN = -87f; // below this, exp(x) < 1.7e-38: flushed to 0
    private static final float EXP_MAX = 88f;

    /**
     * e^x lane-wise, to about 2 ulp: x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor polynomial
     * of degree 7 (error < 5e-9), 2^n built in the exponent bits. x below -87 (and -infinity) gives 0.
     */
    static FloatVector exp(FloatVector x) {
        VectorMask<Float> tiny = x.compare(VectorOperators.LT, EXP_MIN);
        FloatVector xc = x.min(EXP_MAX).max(EXP_MIN);
        FloatVector t = xc.fma(LOG2E, ROUND_MAGIC);          // round(x / ln2) in the low mantissa bits
        FloatVector n = t.sub(ROUND_MAGIC);
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), xc);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = r.fma(FloatVector.broadcast(F, 1f / 5040f), FloatVector.broadcast(F, 1f / 720f));
        p = p.fma(r, FloatVector.broadcast(F, 1f / 120f));
        p = p.fma(r, FloatVector.broadcast(F, 1f / 24f));
        p = p.fma(r, FloatVector.broadcast(F, 1f / 6f));
        p = p.fma(r, FloatVector.broadcast(F, 0.5f));
        p = p.fma(r, FloatVector.broadcast(F, 1f));
        p = p.fma(r, FloatVector.broadcast(F, 1f));
        // t's low bits hold n; (bits + 127) << 23 keeps n + 127 as the exponent field: 2^n.
        FloatVector twoN = t.reinterpretAsInts().add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(twoN).blend(0f, tiny);
    }
}
