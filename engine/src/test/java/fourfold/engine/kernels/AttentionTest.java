package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Attention forward and backward against a naive double-precision reference that materializes the
 * masked softmax (T x Tk per head), and the reference's backward against finite differences.
 */
class AttentionTest {
    // float32 kernel vs double reference, inputs ~N(0,1): errors are a few float ulps of the values.
    private static final double OUT_TOL = 1e-5, GRAD_TOL = 2e-5;

    // ---------------------------------------------------------------- reference (double, naive)

    /** Masked softmax attention in double, with the probabilities kept for the analytic backward. */
    static final class Reference {
        final AttentionShape s;
        final AttentionMask mask;
        final double[] q, k, v, out, lse;
        final double[][] p; // p[(b*nh + h)*T + i][j]

        Reference(AttentionShape s, AttentionMask mask, double[] q, double[] k, double[] v) {
            this.s = s;
            this.mask = mask;
            this.q = q;
            this.k = k;
            this.v = v;
            int B = s.B(), T = s.T(), Tk = s.Tk(), nh = s.nh(), hs = s.hs();
            out = new double[B * T * nh * hs];
            lse = new double[B * nh * T];
            p = new double[B * nh * T][Tk];
            double scale = 1.0 / Math.sqrt(hs);
            for (int b = 0; b < B; b++) for (int h = 0; h < nh; h++) for (int i = 0; i < T; i++) {
                double[] row = p[(b * nh + h) * T + i];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < Tk; j++) {
                    if (!mask.visible(s, b, i, j)) { row[j] = Double.NEGATIVE_INFINITY; continue; }
                    double dot = 0;
                    for (int d = 0; d < hs; d++) dot += q[qi(s, b, i, h) + d] * k[ki(s, b, j, h / s.group()) + d];
                    row[j] = dot * scale;
                    max = Math.max(max, row[j]);
                }
                double sum = 0;
                for (int j = 0; j < Tk; j++) {
                    row[j] = max == Double.NEGATIVE_INFINITY ? 0 : Math.exp(row[j] - max);
                    sum += row[j];
                }
                lse[(b * nh + h) * T + i] = sum == 0 ? Double.NEGATIVE_INFINITY : max + Math.log(sum);
                for (int j = 0; j < Tk; j++) {
                    if (sum > 0) row[j] /= sum;
                    for (int d = 0; d < hs; d++) out[qi(s, b, i, h) + d] += row[j] * v[ki(s, b, j, h / s.group()) + d];
                }
            }
        }

        /** Analytic gradients {dq, dk, dv} of sum(out * dout), straight from the chain rule through softmax. */
        double[][] backward(double[] dout) {
            int B = s.B(), T = s.T(), Tk = s.Tk(), nh = s.nh(), hs = s.hs();
            double[] dq = new double[q.length], dk = new double[k.length], dv = new double[v.length];
            double scale = 1.0 / Math.sqrt(hs);
            for (int b = 0; b < B; b++) for (int h = 0; h < nh; h++) for (int i = 0; i < T; i++) {
                double[] row = p[(b * nh + h) * T + i];
                double[] dp = new double[Tk];
                double dot = 0; // sum_j p_j dp_j
                for (int j = 0; j < Tk; j++) {
                    for (int d = 0; d < hs; d++) dp[j] += dout[qi(s, b, i, h) + d] * v[ki(s, b, j, h / s.group()) + d];
                    dot += row[j] * dp[j];
                }
                for (int j = 0; j < Tk; j++) {
                    double ds = row[j] * (dp[j] - dot) * scale;
                    int kj = ki(s, b, j, h / s.group()), qi = qi(s, b, i, h);
                    for (int d = 0; d < hs; d++) {
                        dq[qi + d] += ds * k[kj + d];
                        dk[kj + d] += ds * q[qi + d];
                        dv[kj + d] += row[j] * dout[qi + d];
                    }
                }
            }
            return new double[][] {dq, dk, dv};
        }

        double loss(double[] dout) {
            double l = 0;
            for (int i = 0; i < out.length; i++) l += out[i] * dout[i];
            return l;
        }
    }

    static int qi(AttentionShape s, int b, int i, int h) {
        return ((b * s.T() + i) * s.nh() + h) * s.hs();
    }

    static int ki(AttentionShape s, int b, int j, int kvh) {
        return ((b * s.Tk() + j) * s.nkv() + kvh) * s.hs();
    }

    // ---------------------------------------------------------------- the kernel under test

    /** Inputs, and the kernel's outputs as arrays. */
    static final class Run {
        final AttentionShape s;
        final AttentionMask mask;
        final float[] q, k, v, dout;
        float[] out, lse, dq, dk, dv;
        double flopsFwd, flopsBwd;

        Run(AttentionShape s, AttentionMask mask, long seed) {
            this.s = s;
            this.mask = mask;
            Random rnd = new Random(seed);
            q = gaussian(rnd, s.B() * s.T() * s.nh() * s.hs());
            k = gaussian(rnd, s.B() * s.Tk() * s.nkv() * s.hs());
            v = gaussian(rnd, s.B() * s.Tk() * s.nkv() * s.hs());
            dout = gaussian(rnd, s.B() * s.T() * s.nh() * s.hs());
        }

        /** Runs forward and backward on a device with {@code threads} workers; grads start at {@code gradInit}. */
        Run execute(int threads, float gradInit) {
            try (Device dev = new Device(0, 64L << 20, threads)) {
                AtomicReference<Double> fwd = new AtomicReference<>(), bwd = new AtomicReference<>();
                dev.setKernelListener((d, name, start, sec, flops, bytes) ->
                        (name.equals("attention_fwd") ? fwd : bwd).set(flops));
                Tensor tq = Tensor.of(dev, MemoryTag.ACTIVATIONS, "q", q, s.B(), s.T(), s.nh(), s.hs());
                Tensor tk = Tensor.of(dev, MemoryTag.ACTIVATIONS, "k", k, s.B(), s.Tk(), s.nkv(), s.hs());
                Tensor tv = Tensor.of(dev, MemoryTag.ACTIVATIONS, "v", v, s.B(), s.Tk(), s.nkv(), s.hs());
                Tensor tout = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "out", s.B(), s.T(), s.nh(), s.hs());
                Tensor tlse = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "lse", s.B(), s.nh(), s.T());
                tout.fill(Float.NaN); // every element must be written
                tlse.fill(Float.NaN);
                Attention.forward(tq, tk, tv, tout, tlse, s, mask);
                Tensor tdout = Tensor.of(dev, MemoryTag.ACTIVATIONS, "dout", dout, s.B(), s.T(), s.nh(), s.hs());
                Tensor tdq = Tensor.empty(dev, MemoryTag.GRADS, "dq", s.B(), s.T(), s.nh(), s.hs());
                Tensor tdk = Tensor.empty(dev, MemoryTag.GRADS, "dk", s.B(), s.Tk(), s.nkv(), s.hs());
                Tensor tdv = Tensor.empty(dev, MemoryTag.GRADS, "dv", s.B(), s.Tk(), s.nkv(), s.hs());
                tdq.fill(gradInit);
                tdk.fill(gradInit);
                tdv.fill(gradInit);
                Attention.backward(tdout, tq, tk, tv, tout, tlse, tdq, tdk, tdv, s, mask);
                out = tout.toArray();
                lse = tlse.toArray();
                dq = tdq.toArray();
                dk = tdk.toArray();
                dv = tdv.toArray();
                flopsFwd = fwd.get();
                flopsBwd = bwd.get();
            }
            return this;
        }

        Reference reference() {
            return new Reference(s, mask, toDouble(q), toDouble(k), toDouble(v));
        }
    }

    static float[] gaussian(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian();
        return a;
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    static int[] range(int from, int to) {
        int[] r = new int[to - from];
        for (int i = 0; i < r.length; i++) r[i] = from + i;
        return r;
    }

    static void assertClose(String what, double[] expected, float[] actual, double tol) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i];
            boolean ok = e == Double.NEGATIVE_INFINITY ? a == Float.NEGATIVE_INFINITY : Math.abs(a - e) <= tol * Math.max(1, Math.abs(e));
            if (!ok) fail(what + "[" + i + "]: expected " + e + ", got " + a + " (tolerance " + tol + ")");
        }
    }

    static double[] plus(double[] a, float init) {
        double[] r = a.clone();
        for (int i = 0; i < r.length; i++) r[i] += init;
        return r;
    }

    /** Forward (out, lse) and backward (dq, dk, dv accumulated onto 0.5) against the double reference. */
    static Run checkAgainstReference(AttentionShape s, AttentionMask mask, long seed) {
        Run run = new Run(s, mask, seed).execute(2, 0.5f);
        Reference ref = run.reference();
        assertClose("out " + s, ref.out, run.out, OUT_TOL);
        assertClose("lse " + s, ref.lse, run.lse, OUT_TOL);
        double[][] g = ref.backward(toDouble(run.dout));
        assertClose("dq " + s, plus(g[0], 0.5f), run.dq, GRAD_TOL);
        assertClose("dk " + s, plus(g[1], 0.5f), run.dk, GRAD_TOL);
        assertClose("dv " + s, plus(g[2], 0.5f), run.dv, GRAD_TOL);
        return run;
    }

    static long visiblePairs(AttentionShape s, AttentionMask mask) {
        long n = 0;
        for (int b = 0; b < s.B(); b++) for (int i = 0; i < s.T(); i++) for (int j = 0; j < s.Tk(); j++) {
            if (mask.visible(s, b, i, j)) n++;
        }
        return n * s.nh();
    }

    // ---------------------------------------------------------------- cases

    @Test
    void causalGqaMatchesReferenceAndCountsVisiblePairs() {
        AttentionShape s = new AttentionShape(2, 37, 37, 4, 2, 16);
        AttentionMask mask = AttentionMask.causal(37);
        Run run = checkAgainstReference(s, mask, 1);
        long pairs = 2L * 4 * 37 * 38 / 2;
        assertEquals(pairs, visiblePairs(s, mask), "causal pairs");
        assertEquals(4.0 * 16 * pairs, run.flopsFwd, "forward flops = 4*hs per visible (query, key) pair");
        assertEquals(10.0 * 16 * pairs, run.flopsBwd, "backward flops = 10*hs per visible pair");
    }

    @Test
    void headSizesThatAreNotWholeVectors() {
        for (int hs : new int[] {8, 33}) {
            checkAgainstReference(new AttentionShape(2, 37, 37, 4, 2, hs), AttentionMask.causal(37), 2 + hs);
        }
    }

    @Test
    void singleQuery() {
        checkAgainstReference(new AttentionShape(2, 1, 1, 4, 2, 16), AttentionMask.causal(1), 3);
        // one new token (position 19) against 20 cached keys, as in decoding
        checkAgainstReference(new AttentionShape(2, 1, 20, 4, 4, 16), new AttentionMask(new int[] {19}, range(0, 20), null, null), 4);
    }

    @Test
    void queryAndKeyOffsetsAsContextParallelGives() {
        AttentionShape s = new AttentionShape(2, 16, 56, 4, 2, 16);
        AttentionMask mask = new AttentionMask(range(40, 56), range(0, 56), null, null);
        Run run = checkAgainstReference(s, mask, 5);
        assertEquals(4.0 * 16 * visiblePairs(s, mask), run.flopsFwd, "forward flops count visible pairs");
    }

    @Test
    void headTailShardedPositions() {
        // sequence of 64 in 4 chunks of 16; this rank holds chunks 0 and 3
        int[] headTail = new int[32];
        for (int i = 0; i < 16; i++) {
            headTail[i] = i;
            headTail[16 + i] = 48 + i;
        }
        // against all keys (all-gather K/V), then against the same sharded keys (a ring step)
        checkAgainstReference(new AttentionShape(2, 32, 64, 4, 2, 16), new AttentionMask(headTail, range(0, 64), null, null), 6);
        checkAgainstReference(new AttentionShape(2, 32, 32, 4, 2, 16), new AttentionMask(headTail, headTail, null, null), 7);
    }

    @Test
    void unsortedPositionsAreMaskedElementByElement() {
        // positions in no particular order: no block can be skipped or trimmed by range
        int[] qPos = new int[40], kPos = new int[45];
        Random rnd = new Random(13);
        for (int i = 0; i < qPos.length; i++) qPos[i] = rnd.nextInt(50);
        for (int j = 0; j < kPos.length; j++) kPos[j] = kPos.length - 1 - j;
        AttentionShape s = new AttentionShape(2, 40, 45, 4, 2, 16);
        AttentionMask mask = new AttentionMask(qPos, kPos, null, null);
        Run run = checkAgainstReference(s, mask, 14);
        assertEquals(4.0 * 16 * visiblePairs(s, mask), run.flopsFwd, "forward flops count visible pairs");
    }

    @Test
    void documentMaskWithThreePackedDocuments() {
        int T = 40;
        int[] docs = new int[2 * T];
        int[][] lengths = {{10, 17, 13}, {25, 3, 12}};
        for (int b = 0; b < 2; b++) {
            int t = 0;
            for (int d = 0; d < 3; d++) for (int n = 0; n < lengths[b][d]; n++) docs[b * T + t++] = d;
        }
        AttentionShape s = new AttentionShape(2, T, T, 4, 2, 16);
        AttentionMask mask = new AttentionMask(range(0, T), range(0, T), docs, docs);
        Run run = checkAgainstReference(s, mask, 8);
        assertEquals(4.0 * 16 * visiblePairs(s, mask), run.flopsFwd, "forward flops count only same-document pairs");
    }

    @Test
    void queryThatSeesNoKeyGetsZeroOutputAndGradient() {
        // queries 0..15 against keys at positions 5..20: queries 0..4 see nothing
        AttentionShape s = new AttentionShape(2, 16, 16, 4, 2, 16);
        Run run = checkAgainstReference(s, new AttentionMask(range(0, 16), range(5, 21), null, null), 9);
        for (int b = 0; b < 2; b++) for (int h = 0; h < 4; h++) for (int i = 0; i < 5; i++) {
            assertEquals(Float.NEGATIVE_INFINITY, run.lse[(b * 4 + h) * 16 + i], "lse of a query with no visible key");
            for (int d = 0; d < 16; d++) {
                assertEquals(0f, run.out[qi(s, b, i, h) + d], "out of a query with no visible key");
                assertEquals(0.5f, run.dq[qi(s, b, i, h) + d], "dq of a query with no visible key stays at its initial value");
            }
        }
        for (float[] a : new float[][] {run.out, run.dq, run.dk, run.dv}) {
            for (float x : a) assertTrue(!Float.isNaN(x), "no NaN anywhere");
        }
    }

    @Test
    void backwardMatchesFiniteDifferencesOfTheReference() {
        AttentionShape s = new AttentionShape(2, 37, 37, 4, 2, 16);
        AttentionMask mask = AttentionMask.causal(37);
        Run run = new Run(s, mask, 10).execute(2, 0f);
        Reference ref = run.reference();
        double[] dout = toDouble(run.dout);
        double[][] analytic = ref.backward(dout);
        double[][] inputs = {ref.q.clone(), ref.k.clone(), ref.v.clone()};
        float[][] kernel = {run.dq, run.dk, run.dv};
        String[] names = {"dq", "dk", "dv"};
        Random rnd = new Random(11);
        double eps = 1e-4;
        for (int t = 0; t < 3; t++) {
            for (int n = 0; n < 12; n++) {
                int idx = rnd.nextInt(inputs[t].length);
                double orig = inputs[t][idx];
                inputs[t][idx] = orig + eps;
                double up = new Reference(s, mask, inputs[0], inputs[1], inputs[2]).loss(dout);
                inputs[t][idx] = orig - eps;
                double down = new Reference(s, mask, inputs[0], inputs[1], inputs[2]).loss(dout);
                inputs[t][idx] = orig;
                double fd = (up - down) / (2 * eps);
                assertEquals(fd, analytic[t][idx], 1e-7 * Math.max(1, Math.abs(fd)), names[t] + "[" + idx + "]: analytic reference vs finite differences");
                assertEquals(fd, kernel[t][idx], GRAD_TOL * Math.max(1, Math.abs(fd)), names[t] + "[" + idx + "]: kernel vs finite differences");
            }
        }
    }

    @Test
    void resultsDoNotDependOnTheNumberOfWorkers() {
        AttentionShape s = new AttentionShape(2, 40, 40, 4, 2, 24);
        AttentionMask mask = AttentionMask.causal(40);
        Run one = new Run(s, mask, 12).execute(1, 0f);
        Run two = new Run(s, mask, 12).execute(2, 0f);
        assertArrayEquals(one.out, two.out, "out, 1 vs 2 workers, bitwise");
        assertArrayEquals(one.lse, two.lse, "lse, 1 vs 2 workers, bitwise");
        assertArrayEquals(one.dq, two.dq, "dq, 1 vs 2 workers, bitwise");
        assertArrayEquals(one.dk, two.dk, "dk, 1 vs 2 workers, bitwise");
        assertArrayEquals(one.dv, two.dv, "dv, 1 vs 2 workers, bitwise");
    }

    @Test
    void vectorExpIsWithinTwoUlpAndExactAtTheEnds() {
        int L = AttentionKernels.L;
        float[] x = new float[L], y = new float[L];
        double worst = 0;
        for (int i = 0; i < 20000; i += L) {
            for (int l = 0; l < L; l++) x[l] = -87f + 87.5f * (i + l) / 20000f; // [-87, 0.5]: what the kernels pass
            AttentionKernels.exp(jdk.incubator.vector.FloatVector.fromArray(AttentionKernels.F, x, 0)).intoArray(y, 0);
            for (int l = 0; l < L; l++) worst = Math.max(worst, Math.abs(y[l] / Math.exp(x[l]) - 1));
        }
        assertTrue(worst < 2.4e-7, "exp relative error " + worst + " should be under 2 ulp (2.4e-7)");
        float[] ends = new float[L];
        Arrays.fill(ends, Float.NEGATIVE_INFINITY);
        ends[1 % L] = -87.5f;
        ends[2 % L] = 0f;
        AttentionKernels.exp(jdk.incubator.vector.FloatVector.fromArray(AttentionKernels.F, ends, 0)).intoArray(y, 0);
        assertEquals(0f, y[0], "exp(-inf) is exactly 0");
        if (L > 2) {
            assertEquals(0f, y[1], "exp below -87 is flushed to 0");
            assertEquals(1f, y[2], "exp(0) is exactly 1");
        }
        ends[0] = Float.NaN;
        AttentionKernels.exp(jdk.incubator.vector.FloatVector.fromArray(AttentionKernels.F, ends, 0)).intoArray(y, 0);
        assertTrue(Float.isNaN(y[0]), "exp(NaN) is NaN");
    }

    @Test
    void badShapesAndMasksAreRefused() {
        AttentionShape s = new AttentionShape(2, 8, 8, 4, 2, 16);
        AttentionMask mask = AttentionMask.causal(8);
        try (Device dev = new Device(0, 16L << 20, 1); Device other = new Device(1, 16L << 20, 1)) {
            Tensor q = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "q", 2, 8, 4, 16);
            Tensor k = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "k", 2, 8, 2, 16);
            Tensor v = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "v", 2, 8, 2, 16);
            Tensor out = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "out", 2, 8, 4, 16);
            Tensor lse = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "lse", 2, 4, 8);
            Tensor kWrong = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "k", 2, 8, 4, 16);
            Tensor vOther = Tensor.zeros(other, MemoryTag.ACTIVATIONS, "v", 2, 8, 2, 16);

            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Attention.forward(q, kWrong, v, out, lse, s, mask));
            assertTrue(e.getMessage().contains("attention forward") && e.getMessage().contains("(2, 8, 4, 16)")
                    && e.getMessage().contains("expected (2, 8, 2, 16)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Attention.forward(q, k, v, out, lse.view(2, 8, 4), s, mask));
            assertTrue(e.getMessage().contains("lse") && e.getMessage().contains("expected (2, 4, 8)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Attention.forward(q, k, vOther, out, lse, s, mask));
            assertTrue(e.getMessage().contains("different devices"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> Attention.forward(q, k, v, out, lse, s, AttentionMask.causal(7)));
            assertTrue(e.getMessage().contains("qPos has 7 entries, expected T=8"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> Attention.forward(q, k, v, out, lse, s, new AttentionMask(range(0, 8), range(0, 8), new int[16], null)));
            assertTrue(e.getMessage().contains("both qDoc and kDoc"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> Attention.forward(q, k, v, out, lse, s, new AttentionMask(range(0, 8), range(0, 8), new int[8], new int[16])));
            assertTrue(e.getMessage().contains("qDoc has 8 entries, expected B*T=16"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> Attention.backward(out, q, k, v, out, lse, q, kWrong, v, s, mask));
            assertTrue(e.getMessage().contains("attention backward") && e.getMessage().contains("expected (2, 8, 2, 16)"), e.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new AttentionShape(2, 8, 8, 4, 3, 16));
        assertTrue(e.getMessage().contains("nh=4 is not divisible by nkv=3"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new AttentionShape(2, 0, 8, 4, 2, 16));
        assertTrue(e.getMessage().contains("T=0"), e.getMessage());
    }
}
