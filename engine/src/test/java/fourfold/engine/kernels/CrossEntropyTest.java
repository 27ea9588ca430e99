package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.engine.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static fourfold.engine.kernels.FiniteDifferences.assertClose;
import static fourfold.engine.kernels.FiniteDifferences.randoms;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Softmax cross-entropy: loss and gradient against double references, and the vocab-parallel building blocks. */
class CrossEntropyTest {
    private static Device device;

    @BeforeAll
    static void start() {
        device = new Device(0, 16 << 20, 2);
    }

    @AfterAll
    static void stop() {
        device.close();
    }

    /** Sum over rows of logsumexp(row) - row[target], in double. */
    static double referenceLoss(double[] logits, int[] targets, int V) {
        double loss = 0;
        for (int n = 0; n < targets.length; n++) {
            double mx = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < V; v++) mx = Math.max(mx, logits[n * V + v]);
            double s = 0;
            for (int v = 0; v < V; v++) s += Math.exp(logits[n * V + v] - mx);
            loss += Math.log(s) + mx - logits[n * V + targets[n]];
        }
        return loss;
    }

    private static int[] targets(long seed, int n, int V) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(V);
        return t;
    }

    @Test
    void lossAndGradientMatchDoubleReference() {
        int[][] sizes = {{1, 1}, {1, 17}, {5, 256}, {1, 4100}}; // 4100: a row spans several exp chunks (2048) and a tail
        float scale = 0.125f;
        for (int[] s : sizes) {
            int N = s[0], V = s[1];
            float[] logits = randoms(111, N * V, 8);
            if (N * V > 20) logits[3] = 1000f; // max subtraction keeps exp finite
            int[] tgt = targets(112, N, V);
            double[] ld = FiniteDifferences.toDouble(logits);
            double expectedLoss = referenceLoss(ld, tgt, V);
            double[] expectedGrad = new double[N * V];
            for (int n = 0; n < N; n++) {
                double mx = Double.NEGATIVE_INFINITY, sum = 0;
                for (int v = 0; v < V; v++) mx = Math.max(mx, ld[n * V + v]);
                for (int v = 0; v < V; v++) sum += Math.exp(ld[n * V + v] - mx);
                for (int v = 0; v < V; v++) expectedGrad[n * V + v] = (Math.exp(ld[n * V + v] - mx) / sum - (v == tgt[n] ? 1 : 0)) * scale;
            }
            String what = "CrossEntropy (N, V) = (" + N + ", " + V + ")";
            try (Tensor tl = Tensor.of(device, MemoryTag.ACTIVATIONS, "logits", logits, N, V); Tensor dl = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "dlogits", N, V)) {
                double loss = CrossEntropy.forwardBackward(tl, tgt, scale, dl);
                // float logits exactly, a float sum of V exps (relative ~V * 2^-24 worst case, far less in lanes), log in double
                assertEquals(expectedLoss, loss, 1e-6 * (N + Math.abs(expectedLoss)), what + " loss");
                assertClose(what + " dlogits", expectedGrad, dl.toArray(), 1e-8, 2e-6);
                assertEquals(loss, CrossEntropy.forward(tl, tgt), 0.0, what + ": forward must give forwardBackward's loss");
                double inPlace = CrossEntropy.forwardBackward(tl, tgt, scale, tl);
                assertEquals(loss, inPlace, 0.0, what + " loss with dlogits aliasing logits");
                assertArrayEquals(dl.toArray(), tl.toArray(), what + " dlogits computed in place");
            }
        }
    }

    @Test
    void gradientIsTheFiniteDifferenceOfTheLoss() {
        int N = 3, V = 19;
        float scale = 0.5f;
        float[] logits = randoms(121, N * V, 3);
        int[] tgt = targets(122, N, V);
        double[] expected = FiniteDifferences.gradient(v -> scale * referenceLoss(v, tgt, V), FiniteDifferences.toDouble(logits), 1e-5);
        try (Tensor tl = Tensor.of(device, MemoryTag.ACTIVATIONS, "logits", logits, N, V); Tensor dl = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "dlogits", N, V)) {
            CrossEntropy.forwardBackward(tl, tgt, scale, dl);
            // softmax probabilities from float exps: 1e-6 relative, FD error ~1e-10
            assertClose("CrossEntropy dlogits vs finite differences of the loss", expected, dl.toArray(), 1e-7, 2e-6);
        }
    }

    @Test
    void vocabParallelPiecesReproduceTheFullLossAndGradient() {
        // Two "ranks" hold vocab slices [0, 16) and [16, 37); max and sum-exp are combined as an all-reduce would.
        int N = 6, V = 37, split = 16;
        float[] logits = randoms(131, N * V, 5);
        int[] tgt = targets(132, N, V);
        float scale = 1f / N;
        try (Tensor full = Tensor.of(device, MemoryTag.ACTIVATIONS, "logits", logits, N, V); Tensor dfull = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "dlogits", N, V);
             Tensor a = full.slice(1, 0, split, MemoryTag.ACTIVATIONS, "logits[:, :16]");
             Tensor b = full.slice(1, split, V - split, MemoryTag.ACTIVATIONS, "logits[:, 16:]")) {
            double expectedLoss = CrossEntropy.forwardBackward(full, tgt, scale, dfull);
            float[] maxA = new float[N], maxB = new float[N], max = new float[N];
            CrossEntropy.rowMax(a, maxA);
            CrossEntropy.rowMax(b, maxB);
            for (int n = 0; n < N; n++) max[n] = Math.max(maxA[n], maxB[n]); // all-reduce max
            float[] sumA = new float[N], sumB = new float[N], sum = new float[N];
            CrossEntropy.rowSumExp(a, max, sumA);
            CrossEntropy.rowSumExp(b, max, sumB);
            for (int n = 0; n < N; n++) sum[n] = sumA[n] + sumB[n]; // all-reduce sum
            float[] tA = new float[N], tB = new float[N], target = new float[N];
            CrossEntropy.targetLogits(a, tgt, 0, tA);
            CrossEntropy.targetLogits(b, tgt, split, tB);
            for (int n = 0; n < N; n++) {
                boolean inA = tgt[n] < split;
                assertEquals(inA ? 0f : logits[n * V + tgt[n]], tB[n], "targetLogits of the slice that does not hold target " + tgt[n] + " is 0");
                target[n] = tA[n] + tB[n]; // all-reduce sum: exactly one slice holds the target
            }
            double loss = CrossEntropy.lossSum(max, sum, target);
            assertEquals(expectedLoss, loss, 1e-6 * Math.abs(expectedLoss), "vocab-parallel loss vs single-device loss");
            CrossEntropy.gradient(a, max, sum, tgt, 0, scale, a);
            CrossEntropy.gradient(b, max, sum, tgt, split, scale, b);
            float[] joined = new float[N * V], da = a.toArray(), db = b.toArray();
            for (int n = 0; n < N; n++) {
                System.arraycopy(da, n * split, joined, n * V, split);
                System.arraycopy(db, n * (V - split), joined, n * V + split, V - split);
            }
            // only the float sum-exp differs (summed per slice, then added): a few ulps
            assertClose("vocab-parallel dlogits vs single-device dlogits", dfull.toArray(), joined, 1e-9, 1e-6);
        }
    }

    @Test
    void refusesTargetsOutsideTheVocabularyAndBadShapes() {
        try (Tensor tl = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "logits", 2, 3, 5); Tensor dl = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "dlogits", 6, 4);
             Device other = new Device(2, 1 << 20, 1); Tensor dlOther = Tensor.zeros(other, MemoryTag.ACTIVATIONS, "dlogits", 6, 5)) {
            int[] ok = {0, 1, 2, 3, 4, 0};
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CrossEntropy.forwardBackward(tl, new int[] {0, 1, 5, 0, 0, 0}, 1f, tl));
            assertTrue(e.getMessage().contains("CrossEntropy.forwardBackward") && e.getMessage().contains("targets[2] = 5")
                    && e.getMessage().contains("[0, 5)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> CrossEntropy.forward(tl, new int[] {0, -1, 0, 0, 0, 0}));
            assertTrue(e.getMessage().contains("CrossEntropy.forward") && e.getMessage().contains("targets[1] = -1"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> CrossEntropy.forward(tl, new int[] {0, 1}));
            assertTrue(e.getMessage().contains("targets has length 2, expected 6"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> CrossEntropy.forwardBackward(tl, ok, 1f, dl));
            assertTrue(e.getMessage().contains("dlogits has shape (6, 4)") && e.getMessage().contains("6 rows of 5"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> CrossEntropy.forwardBackward(tl, ok, 1f, dlOther));
            assertTrue(e.getMessage().contains("different devices"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> CrossEntropy.rowSumExp(tl, new float[5], new float[6]));
            assertTrue(e.getMessage().contains("CrossEntropy.rowSumExp") && e.getMessage().contains("max has length 5, expected 6"), e.getMessage());
        }
    }
}
