package fourfold.engine.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The inner loops of blocked attention, on per-thread heap scratch.
 *
 * <p>Scores are computed transposed, sᵀ = k·qᵀ (keys x queries), so vectors run along queries:
 * the softmax's per-query max and sum are then lane-wise over rows (no horizontal reduction, a
 * fixed summation order), and k needs no transposition per block (only qᵀ, once per task).
 * Weighted sums run vectors along the head dimension with the weight broadcast.
 *
 * <p>Blocks of rows (q, dO, k, v: rows x hsP) are stored in <em>panels</em> of L columns: element
 * (r, c) at {@code (c / L) * panelStride + r * L + c % L}. Walking down a panel then advances by
 * the constant L, which lets the JIT hoist the array bounds checks out of the inner loops (with a
 * variable row stride the weighted sum ran ~40% slower). Transposed blocks (hsP x BQ) have the
 * constant row stride BQ. hsP is hs rounded up to L; padding columns hold zeros.
 */
final class AttentionKernels {
    private AttentionKernels() {}

    static final VectorSpecies<Float> F = KernelSupport.FLOATS;
    static final VectorSpecies<Integer> I = F.withLanes(int.class);
    static final int L = F.length();
    /**
     * Queries per block and keys per block. A score block sᵀ is (BK, BQ) with the constant row
     * stride BQ, read straight or transposed; BQ must hold whole 2-vector score tiles.
     */
    static final int BQ = 32, BK = 32;

    static {
        if (BQ % (2 * L) != 0) {
            throw new ExceptionInInitializerError("attention kernels: " + L + "-lane vectors do not tile BQ=" + BQ);
        }
    }
    /**
     * Rows of the register tiles. A 4 x 2-vector tile keeps 8 accumulators in flight: enough to
     * hide the FMA latency on two FMA units, and few enough for the 16 registers of AVX2.
     */
    static final int TILE = 4;

    static int roundUp(int n, int m) {
        return (n + m - 1) / m * m;
    }

    /**
     * c[r*BQ + j] = sum_d A[r, d] * bt[btOff + d*BQ + j] for r in [0, rows), j in [0, BQ), d in
     * [0, hsP): A is a panel block (first row at aOff, panel stride aps), bt a transposed block
     * (hsP, BQ). rows is a multiple of TILE. With colStart (else null), the row tile t starts at
     * column colStart[t] rounded down to whole tiles; the columns before are left as they were.
     */
    static void scores(float[] a, int aOff, int aps, float[] bt, int btOff, int hsP, float[] c, int rows, int[] colStart) {
        for (int r0 = 0; r0 < rows; r0 += TILE) {
            int j0 = colStart == null ? 0 : colStart[r0 / TILE] / (2 * L) * (2 * L);
            for (int j = j0; j < BQ; j += 2 * L) {
                FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F);
                FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F);
                FloatVector c20 = FloatVector.zero(F), c21 = FloatVector.zero(F);
                FloatVector c30 = FloatVector.zero(F), c31 = FloatVector.zero(F);
                for (int d0 = 0; d0 < hsP; d0 += L) {
                    int ai = aOff + d0 / L * aps + r0 * L;
                    int bi0 = btOff + d0 * BQ + j;
                    for (int dd = 0; dd < L; dd++) { // constant trip count: unrolled by the JIT
                        int bi = bi0 + dd * BQ;
                        FloatVector b0 = FloatVector.fromArray(F, bt, bi);
                        FloatVector b1 = FloatVector.fromArray(F, bt, bi + L);
                        FloatVector x;
                        x = FloatVector.broadcast(F, a[ai + dd]);
                        c00 = b0.fma(x, c00); c01 = b1.fma(x, c01);
                        x = FloatVector.broadcast(F, a[ai + dd + L]);
                        c10 = b0.fma(x, c10); c11 = b1.fma(x, c11);
                        x = FloatVector.broadcast(F, a[ai + dd + 2 * L]);
                        c20 = b0.fma(x, c20); c21 = b1.fma(x, c21);
                        x = FloatVector.broadcast(F, a[ai + dd + 3 * L]);
                        c30 = b0.fma(x, c30); c31 = b1.fma(x, c31);
                    }
                }
                int ci = r0 * BQ + j;
                c00.intoArray(c, ci); c01.intoArray(c, ci + L); ci += BQ;
                c10.intoArray(c, ci); c11.intoArray(c, ci + L); ci += BQ;
                c20.intoArray(c, ci); c21.intoArray(c, ci + L); ci += BQ;
                c30.intoArray(c, ci); c31.intoArray(c, ci + L);
            }
        }
    }

    /**
     * c[cOff + r*ldc + col] += sum_k w[r*BQ + k] * X[k, col] for r in [0, rows), k in [0, K),
     * col in [0, cols): a weighted sum of the rows of the panel block X (first row at xOff, panel
     * stride xps), weights from a (rows, BQ) block w. rows is a multiple of TILE, cols of L. With
     * kStart (else null), row tile t sums over k in [kStart[t], K) only.
     */
    static void accumulate(float[] w, float[] x, int xOff, int xps, int K, float[] c, int cOff, int ldc, int rows, int cols, int[] kStart) {
        for (int r0 = 0; r0 < rows; r0 += TILE) {
            int w0 = r0 * BQ;
            int k0 = kStart == null ? 0 : kStart[r0 / TILE];
            int col = 0;
            for (; col + 2 * L <= cols; col += 2 * L) {
                int ci = cOff + r0 * ldc + col;
                int x0i = xOff + col / L * xps, x1i = x0i + xps;
                FloatVector c00 = FloatVector.fromArray(F, c, ci), c01 = FloatVector.fromArray(F, c, ci + L);
                FloatVector c10 = FloatVector.fromArray(F, c, ci + ldc), c11 = FloatVector.fromArray(F, c, ci + ldc + L);
                FloatVector c20 = FloatVector.fromArray(F, c, ci + 2 * ldc), c21 = FloatVector.fromArray(F, c, ci + 2 * ldc + L);
                FloatVector c30 = FloatVector.fromArray(F, c, ci + 3 * ldc), c31 = FloatVector.fromArray(F, c, ci + 3 * ldc + L);
                for (int k = k0; k < K; k++) {
                    FloatVector x0 = FloatVector.fromArray(F, x, x0i + k * L);
                    FloatVector x1 = FloatVector.fromArray(F, x, x1i + k * L);
                    int wi = w0 + k;
                    FloatVector s;
                    s = FloatVector.broadcast(F, w[wi]);
                    c00 = x0.fma(s, c00); c01 = x1.fma(s, c01);
                    s = FloatVector.broadcast(F, w[wi + BQ]);
                    c10 = x0.fma(s, c10); c11 = x1.fma(s, c11);
                    s = FloatVector.broadcast(F, w[wi + 2 * BQ]);
                    c20 = x0.fma(s, c20); c21 = x1.fma(s, c21);
                    s = FloatVector.broadcast(F, w[wi + 3 * BQ]);
                    c30 = x0.fma(s, c30); c31 = x1.fma(s, c31);
                }
                c00.intoArray(c, ci); c01.intoArray(c, ci + L); ci += ldc;
                c10.intoArray(c, ci); c11.intoArray(c, ci + L); ci += ldc;
                c20.intoArray(c, ci); c21.intoArray(c, ci + L); ci += ldc;
                c30.intoArray(c, ci); c31.intoArray(c, ci + L);
            }
            if (col < cols) { // one vector of columns left (cols is an odd number of vectors)
                int ci = cOff + r0 * ldc + col;
                int x0i = xOff + col / L * xps;
                FloatVector c0 = FloatVector.fromArray(F, c, ci), c1 = FloatVector.fromArray(F, c, ci + ldc);
                FloatVector c2 = FloatVector.fromArray(F, c, ci + 2 * ldc), c3 = FloatVector.fromArray(F, c, ci + 3 * ldc);
                for (int k = k0; k < K; k++) {
                    FloatVector x0 = FloatVector.fromArray(F, x, x0i + k * L);
                    int wi = w0 + k;
                    c0 = x0.fma(FloatVector.broadcast(F, w[wi]), c0);
                    c1 = x0.fma(FloatVector.broadcast(F, w[wi + BQ]), c1);
                    c2 = x0.fma(FloatVector.broadcast(F, w[wi + 2 * BQ]), c2);
                    c3 = x0.fma(FloatVector.broadcast(F, w[wi + 3 * BQ]), c3);
                }
                c0.intoArray(c, ci); c1.intoArray(c, ci + ldc); c2.intoArray(c, ci + 2 * ldc); c3.intoArray(c, ci + 3 * ldc);
            }
        }
    }

    /**
     * As {@link #accumulate} with the weights read transposed: c[r, col] += sum_k w[k*BQ + r] *
     * X[k, col], so p·v runs on the transposed block pᵀ without copying it. A second method
     * rather than a stride parameter: constant strides keep the bounds checks hoisted. With kEnd
     * (else null), row tile t sums over k in [0, kEnd[t]) only.
     */
    static void accumulateTransposed(float[] w, float[] x, int xOff, int xps, int K, float[] c, int cOff, int ldc, int rows, int cols, int[] kEnd) {
        for (int r0 = 0; r0 < rows; r0 += TILE) {
            int kn = kEnd == null ? K : kEnd[r0 / TILE];
            int col = 0;
            for (; col + 2 * L <= cols; col += 2 * L) {
                int ci = cOff + r0 * ldc + col;
                int x0i = xOff + col / L * xps, x1i = x0i + xps;
                FloatVector c00 = FloatVector.fromArray(F, c, ci), c01 = FloatVector.fromArray(F, c, ci + L);
                FloatVector c10 = FloatVector.fromArray(F, c, ci + ldc), c11 = FloatVector.fromArray(F, c, ci + ldc + L);
                FloatVector c20 = FloatVector.fromArray(F, c, ci + 2 * ldc), c21 = FloatVector.fromArray(F, c, ci + 2 * ldc + L);
                FloatVector c30 = FloatVector.fromArray(F, c, ci + 3 * ldc), c31 = FloatVector.fromArray(F, c, ci + 3 * ldc + L);
                for (int k = 0; k < kn; k++) {
                    FloatVector x0 = FloatVector.fromArray(F, x, x0i + k * L);
                    FloatVector x1 = FloatVector.fromArray(F, x, x1i + k * L);
                    int wi = k * BQ + r0;
                    FloatVector s;
                    s = FloatVector.broadcast(F, w[wi]);
                    c00 = x0.fma(s, c00); c01 = x1.fma(s, c01);
                    s = FloatVector.broadcast(F, w[wi + 1]);
                    c10 = x0.fma(s, c10); c11 = x1.fma(s, c11);
                    s = FloatVector.broadcast(F, w[wi + 2]);
                    c20 = x0.fma(s, c20); c21 = x1.fma(s, c21);
                    s = FloatVector.broadcast(F, w[wi + 3]);
                    c30 = x0.fma(s, c30); c31 = x1.fma(s, c31);
                }
                c00.intoArray(c, ci); c01.intoArray(c, ci + L); ci += ldc;
                c10.intoArray(c, ci); c11.intoArray(c, ci + L); ci += ldc;
                c20.intoArray(c, ci); c21.intoArray(c, ci + L); ci += ldc;
                c30.intoArray(c, ci); c31.intoArray(c, ci + L);
            }
            if (col < cols) {
                int ci = cOff + r0 * ldc + col;
                int x0i = xOff + col / L * xps;
                FloatVector c0 = FloatVector.fromArray(F, c, ci), c1 = FloatVector.fromArray(F, c, ci + ldc);
                FloatVector c2 = FloatVector.fromArray(F, c, ci + 2 * ldc), c3 = FloatVector.fromArray(F, c, ci + 3 * ldc);
                for (int k = 0; k < kn; k++) {
                    FloatVector x0 = FloatVector.fromArray(F, x, x0i + k * L);
                    int wi = k * BQ + r0;
                    c0 = x0.fma(FloatVector.broadcast(F, w[wi]), c0);
                    c1 = x0.fma(FloatVector.broadcast(F, w[wi + 1]), c1);
                    c2 = x0.fma(FloatVector.broadcast(F, w[wi + 2]), c2);
                    c3 = x0.fma(FloatVector.broadcast(F, w[wi + 3]), c3);
                }
                c0.intoArray(c, ci); c1.intoArray(c, ci + ldc); c2.intoArray(c, ci + 2 * ldc); c3.intoArray(c, ci + 3 * ldc);
            }
        }
    }

    /**
     * Sets the invisible entries of a transposed score block sᵀ (keys x queries) to -infinity,
     * over key rows [0, nk) and all BQ query columns (columns [nq, BQ) are padding: invisible).
     * Key j sees query c iff kpos[kOff + j] <= qpos[qOff + c] and kdoc[kdOff + j] == qdoc[qOff + c]
     * (without a document mask kdoc is null and qdoc holds zeros). Returns the number of visible
     * pairs (for the flop count).
     */
    static long mask(float[] sT, int nk, int nq, int[] kpos, int kOff, int[] kdoc, int kdOff, int[] qpos, int[] qdoc, int qOff) {
        FloatVector ninf = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        long visible = 0;
        for (int j = 0; j < nk; j++) {
            int kp = kpos[kOff + j];
            int kd = kdoc == null ? 0 : kdoc[kdOff + j];
            for (int c = 0; c < BQ; c += L) {
                // no branches: a mask merged across a branch would be boxed by the JIT
                VectorMask<Integer> vis = IntVector.fromArray(I, qpos, qOff + c).compare(VectorOperators.GE, kp)
                        .and(IntVector.fromArray(I, qdoc, qOff + c).compare(VectorOperators.EQ, kd))
                        .and(I.indexInRange(c, nq));
                visible += vis.trueCount();
                int si = j * BQ + c;
                FloatVector.fromArray(F, sT, si).blend(ninf, vis.not().cast(F)).intoArray(sT, si);
            }
        }
        return visible;
    }

    /**
     * Online-softmax step on a transposed score block sᵀ (key rows [0, nk), BQ query columns):
     * per query, the running max m and sum lsum are updated, sᵀ is overwritten with
     * pᵀ = exp(sᵀ - m_new), and alpha receives exp(m_old - m_new), the factor by which the
     * caller rescales what it accumulated so far. A query that has seen no visible key keeps
     * m = -infinity, lsum = 0 and gets p = 0 (no NaN). With kEnd (the causal triangle of
     * AttentionBlocks.trim, else null) only the rows some query of a column vector can see are
     * processed: later rows are invisible (-infinity) and p·v does not read them.
     */
    static void softmaxStep(float[] sT, int nk, int nq, int[] kEnd, float[] m, float[] lsum, float[] alpha) {
        FloatVector pinf = FloatVector.broadcast(F, Float.POSITIVE_INFINITY);
        int lastTile = (nq - 1) / TILE;
        for (int c = 0; c < BQ; c += L) {
            int jEnd = kEnd == null ? nk : kEnd[Math.min((c + L - 1) / TILE, lastTile)];
            FloatVector mOld = FloatVector.fromArray(F, m, c);
            FloatVector mNew = mOld;
            for (int j = 0; j < jEnd; j++) { // max by compare + blend: Math.max semantics cost more on AVX2
                FloatVector s = FloatVector.fromArray(F, sT, j * BQ + c);
                mNew = mNew.blend(s, s.compare(VectorOperators.GT, mNew));
            }
            // where nothing is visible yet, subtract +inf instead of -inf: p = exp(-inf) = 0, not NaN
            FloatVector mSub = mNew.blend(pinf, mNew.compare(VectorOperators.EQ, Float.NEGATIVE_INFINITY));
            FloatVector a = exp(mOld.sub(mSub));
            FloatVector l = FloatVector.fromArray(F, lsum, c).mul(a);
            for (int j = 0; j < jEnd; j++) {
                int si = j * BQ + c;
                FloatVector p = exp(FloatVector.fromArray(F, sT, si).sub(mSub));
                p.intoArray(sT, si);
                l = l.add(p);
            }
            mNew.intoArray(m, c);
            l.intoArray(lsum, c);
            a.intoArray(alpha, c);
        }
    }

    /** o[r*ldo .. +cols) *= alpha[r] for r in [0, rows) (skipped where alpha is 1). */
    static void rescale(float[] o, int ldo, int cols, float[] alpha, int rows) {
        for (int r = 0; r < rows; r++) {
            float a = alpha[r];
            if (a == 1f) continue;
            for (int c = r * ldo; c < r * ldo + cols; c += L) FloatVector.fromArray(F, o, c).mul(a).intoArray(o, c);
        }
    }

    /**
     * Backward on transposed blocks (key rows [0, nk), BQ query columns): pᵀ = exp(sᵀ - lse) into
     * sT, then dsᵀ = pᵀ * (dpᵀ - D) into dpT; lse and D per query at lse[off ..], dd[off ..].
     * Masked scores (-infinity) and queries with lse = -infinity (no visible key, or padding) give 0.
     */
    static void softmaxBackward(float[] sT, float[] dpT, int nk, float[] lse, float[] dd, int off) {
        FloatVector pinf = FloatVector.broadcast(F, Float.POSITIVE_INFINITY);
        for (int c = 0; c < BQ; c += L) {
            FloatVector lv = FloatVector.fromArray(F, lse, off + c);
            lv = lv.blend(pinf, lv.compare(VectorOperators.EQ, Float.NEGATIVE_INFINITY));
            FloatVector dv = FloatVector.fromArray(F, dd, off + c);
            for (int j = 0; j < nk; j++) {
                int si = j * BQ + c;
                FloatVector p = exp(FloatVector.fromArray(F, sT, si).sub(lv));
                p.intoArray(sT, si);
                p.mul(FloatVector.fromArray(F, dpT, si).sub(dv)).intoArray(dpT, si);
            }
        }
    }

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693145751953125f; // ln 2 split so that n * LN2_HI is exact
    private static final float LN2_LO = 1.428606765330187045e-6f;
    private static final float ROUND_MAGIC = 12582912f; // 1.5 * 2^23: adding it rounds to an integer
    private static final float EXP_MIN = -87f; // below this, e^x < 1.7e-38: flushed to 0
    // e^r on [-ln2/2, ln2/2]: degree-6 polynomial fitted for this kernel (iteratively reweighted
    // least squares on the relative error); 7e-8 relative error in float Horner, as Taylor's degree 7.
    private static final float C2 = 0.49999991059303284f, C3 = 0.16666419804096222f, C4 = 0.04166822135448456f,
            C5 = 0.008374817669391632f, C6 = 0.0013837141450494528f;

    /**
     * e^x lane-wise, to about 1 ulp, for x <= 88 (callers pass s - max <= 0, or s - lse, at most a
     * rounding error above 0): x = n ln2 + r with |r| <= ln2/2, e^r by a polynomial, n added to the
     * exponent bits. x below -87, and -infinity, give exactly 0; NaN stays NaN.
     */
    static FloatVector exp(FloatVector x) {
        VectorMask<Float> tiny = x.compare(VectorOperators.LT, EXP_MIN);
        FloatVector t = x.fma(FloatVector.broadcast(F, LOG2E), FloatVector.broadcast(F, ROUND_MAGIC)); // n in the low bits
        FloatVector n = t.sub(ROUND_MAGIC);
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = r.fma(FloatVector.broadcast(F, C6), FloatVector.broadcast(F, C5));
        p = p.fma(r, FloatVector.broadcast(F, C4));
        p = p.fma(r, FloatVector.broadcast(F, C3));
        p = p.fma(r, FloatVector.broadcast(F, C2));
        p = p.fma(r, FloatVector.broadcast(F, 1f));
        p = p.fma(r, FloatVector.broadcast(F, 1f));
        // p * 2^n: t's bits shifted left by 23 are n << 23 (the magic's bits fall off the top);
        // adding them to p's exponent stays normal for every x >= -87.
        IntVector bits = p.reinterpretAsInts().add(t.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23));
        return bits.reinterpretAsFloats().blend(FloatVector.zero(F), tiny);
    }
}
