package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.engine.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static fourfold.engine.kernels.FiniteDifferences.assertClose;
import static fourfold.engine.kernels.FiniteDifferences.randoms;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Rotary embedding in HF's rotate-half convention: scalar references, torch golden numbers, inverse and gradient. */
class RopeTest {
    private static final double THETA = 10000;
    private static Device device;

    @BeforeAll
    static void start() {
        device = new Device(0, 16 << 20, 2);
    }

    @AfterAll
    static void stop() {
        device.close();
    }

    /** The HF float32 recipe, one element at a time: inv_freq, angle and cos/sin per (pos, i). */
    private static float[] hfCosSin(int hs, int pos, int i, boolean sin) {
        float invFreq = 1.0f / (float) Math.pow((float) THETA, (float) (2 * i) / (float) hs);
        float angle = (float) pos * invFreq;
        return new float[] {(float) (sin ? Math.sin(angle) : Math.cos(angle))};
    }

    /** Scalar rotate-half on (B, T, nh, hs), with cos/sin given per (pos, i) as doubles. */
    private static double[] rotate(double[] x, int B, int T, int nh, int hs, int[] pos, double[][] cos, double[][] sin) {
        double[] out = x.clone();
        int h = hs / 2;
        for (int b = 0; b < B; b++) for (int t = 0; t < T; t++) for (int k = 0; k < nh; k++) {
            int base = ((b * T + t) * nh + k) * hs;
            for (int i = 0; i < h; i++) {
                double c = cos[pos[t]][i], s = sin[pos[t]][i], x1 = x[base + i], x2 = x[base + h + i];
                out[base + i] = x1 * c - x2 * s;
                out[base + h + i] = x2 * c + x1 * s;
            }
        }
        return out;
    }

    private static double[][][] hfTable(int hs, int maxPos) {
        double[][] cos = new double[maxPos][hs / 2], sin = new double[maxPos][hs / 2];
        for (int p = 0; p < maxPos; p++) for (int i = 0; i < hs / 2; i++) {
            cos[p][i] = hfCosSin(hs, p, i, false)[0];
            sin[p][i] = hfCosSin(hs, p, i, true)[0];
        }
        return new double[][][] {cos, sin};
    }

    @Test
    void forwardRotatesEachHeadByItsTokensPosition() {
        // head sizes with full vectors and a tail (hs/2 = 19), only a tail (1) and a model-like one (32); positions out of order as under context parallel
        int[][] shapes = {{2, 5, 3, 38}, {1, 1, 1, 2}, {2, 4, 2, 64}};
        int[][] positions = {{9, 3, 0, 17, 200}, {0}, {511, 1, 300, 2}};
        int maxPos = 512;
        for (int k = 0; k < shapes.length; k++) {
            int B = shapes[k][0], T = shapes[k][1], nh = shapes[k][2], hs = shapes[k][3];
            int[] pos = positions[k];
            float[] x = randoms(41 + k, B * T * nh * hs, 2);
            double[][][] table = hfTable(hs, maxPos);
            // float32 operations of HF (products, then one add) on the float32 table: the kernel must agree exactly
            double[] expected = rotate(FiniteDifferences.toDouble(x), B, T, nh, hs, pos, table[0], table[1]);
            float[] expectedF = new float[x.length];
            int h = hs / 2;
            for (int r = 0; r < x.length / hs; r++) {
                int p = pos[(r / nh) % T];
                for (int i = 0; i < h; i++) {
                    float c = (float) table[0][p][i], s = (float) table[1][p][i], x1 = x[r * hs + i], x2 = x[r * hs + h + i];
                    expectedF[r * hs + i] = x1 * c - x2 * s;
                    expectedF[r * hs + h + i] = x2 * c + x1 * s;
                }
            }
            Rope rope = new Rope(hs, maxPos, THETA);
            try (Tensor t = Tensor.of(device, MemoryTag.ACTIVATIONS, "q", x, B, T, nh, hs)) {
                rope.forward(t, B, T, nh, pos);
                String what = "Rope.forward (B,T,nh,hs)=(" + B + "," + T + "," + nh + "," + hs + ")";
                assertClose(what + " vs float32 scalar loop", expectedF, t.toArray(), 0, 0);
                assertClose(what + " vs double rotation", expected, t.toArray(), 1e-6, 1e-6);
            }
        }
    }

    @Test
    void tableMatchesExactMathWhereFloatAnglesAreExactEnough() {
        // Below position 16 the float32 angle is within 1e-6 rad of pos * theta^(-2i/hs) computed in double.
        int hs = 10, T = 16;
        int[] pos = new int[T];
        for (int t = 0; t < T; t++) pos[t] = t;
        double[][] cos = new double[T][hs / 2], sin = new double[T][hs / 2];
        for (int p = 0; p < T; p++) for (int i = 0; i < hs / 2; i++) {
            double a = p * Math.pow(THETA, -2.0 * i / hs);
            cos[p][i] = Math.cos(a);
            sin[p][i] = Math.sin(a);
        }
        float[] x = randoms(47, T * hs, 1);
        double[] expected = rotate(FiniteDifferences.toDouble(x), 1, T, 1, hs, pos, cos, sin);
        try (Tensor t = Tensor.of(device, MemoryTag.ACTIVATIONS, "k", x, 1, T, 1, hs)) {
            new Rope(hs, 64, THETA).forward(t, 1, T, 1, pos);
            assertClose("Rope.forward vs exact rotation at small positions", expected, t.toArray(), 1e-5, 0);
        }
    }

    /** scripts/golden/rope_reference.py (torch 1.13, HF's recipe): hs=8, nh=2, positions {0,1,7,1000,4095}. */
    private static final float[] GOLDEN = {
            -9.375e-01f, -3.125e-02f, 8.75e-01f, -1.25e-01f, 7.8125e-01f, -2.1875e-01f, 6.875e-01f, -3.125e-01f,
            5.9375e-01f, -4.0625e-01f, 5.e-01f, -5.e-01f, 4.0625e-01f, -5.9375e-01f, 3.125e-01f, -6.875e-01f,
            9.189517e-02f, -8.7094086e-01f, 1.2561874e-01f, -8.7584335e-01f, 2.0095623e-01f, 8.548215e-01f, -6.1246894e-02f, 8.428746e-01f,
            2.0483342e-01f, 6.9009686e-01f, -2.4561258e-01f, 6.55781e-01f, -3.1720877e-01f, 6.3456494e-01f, -4.399781e-01f, 4.69406e-01f,
            7.169855e-02f, 1.6602501e-01f, -5.6664085e-01f, 2.8058687e-01f, -8.908914e-01f, 3.8498953e-01f, -8.542245e-01f, 9.571644e-02f,
            -1.2170255e+00f, 1.2079081e-01f, 8.5375917e-01f, -9.177897e-02f, 1.7151535e-02f, -1.4340791e-01f, 7.8037554e-01f, -2.8189936e-01f,
            -1.027289e-02f, -6.0820025e-01f, -2.5874949e-01f, 2.9894862e-01f, 7.6284057e-01f, -2.9516727e-01f, -5.7744205e-01f, -7.4901295e-01f,
            8.89148e-02f, -1.1214569e+00f, -1.4810558e-01f, -1.1921673e+00f, 2.4186859e-01f, -4.286497e-01f, -5.8782317e-02f, -2.3722655e-01f,
            -3.0357215e-01f, -1.679757e-01f, 1.731315e-01f, 9.6972585e-03f, 1.4534515e-01f, 9.667858e-01f, 4.2768693e-01f, -8.500366e-01f,
            -6.5301406e-01f, -7.4282736e-03f, 5.049893e-01f, -7.898461e-02f, 5.442691e-01f, 4.613409e-01f, 8.413539e-01f, -3.2717377e-01f,
    };

    @Test
    void forwardMatchesHuggingFaceInTorch() {
        int hs = 8, nh = 2;
        int[] pos = {0, 1, 7, 1000, 4095};
        float[] x = new float[pos.length * nh * hs];
        for (int i = 0; i < x.length; i++) x[i] = ((i * 29) % 61 - 30) / 32.0f;
        try (Tensor t = Tensor.of(device, MemoryTag.ACTIVATIONS, "q", x, 1, pos.length, nh, hs)) {
            new Rope(hs, 4096, THETA).forward(t, 1, pos.length, nh, pos);
            // torch's float32 cos/sin (Sleef, <= 1 ulp) may differ from Java's by one ulp: 2 ulps of values <= 1.3
            assertClose("Rope.forward vs HF Llama in torch", GOLDEN, t.toArray(), 3e-7, 2.4e-7);
        }
    }

    @Test
    void backwardIsTheTransposeOfForward() {
        int B = 2, T = 3, nh = 2, hs = 6, maxPos = 40;
        int[] pos = {31, 4, 17};
        float[] dout = randoms(51, B * T * nh * hs, 1);
        double[][][] table = hfTable(hs, maxPos);
        double[] x0 = FiniteDifferences.toDouble(randoms(52, dout.length, 1));
        // L(x) = sum(dout * rope(x)); dL/dx = R^T dout is what backward must return
        double[] expected = FiniteDifferences.gradient(v -> FiniteDifferences.dot(dout, rotate(v, B, T, nh, hs, pos, table[0], table[1])), x0, 1e-3);
        Rope rope = new Rope(hs, maxPos, THETA);
        try (Tensor t = Tensor.of(device, MemoryTag.ACTIVATIONS, "dq", dout, B, T, nh, hs)) {
            rope.backward(t, B, T, nh, pos);
            // L is linear in x, so the central difference is exact up to double rounding
            assertClose("Rope.backward vs finite differences", expected, t.toArray(), 1e-6, 1e-6);
            rope.forward(t, B, T, nh, pos); // rotating back recovers dout (|cos|,|sin| rounding only)
            assertClose("Rope.forward(backward(d)) == d", FiniteDifferences.toDouble(dout), t.toArray(), 1e-6, 0);
        }
    }

    @Test
    void refusesOddHeadSizePositionsOutsideTheTableAndWrongShapes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Rope(7, 16, THETA));
        assertTrue(e.getMessage().contains("Rope") && e.getMessage().contains("even") && e.getMessage().contains("7"), e.getMessage());
        Rope rope = new Rope(4, 16, THETA);
        try (Tensor t = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "q", 1, 2, 3, 4)) {
            e = assertThrows(IllegalArgumentException.class, () -> rope.forward(t, 1, 2, 3, new int[] {3, 16}));
            assertTrue(e.getMessage().contains("Rope.forward") && e.getMessage().contains("positions[1] = 16")
                    && e.getMessage().contains("[0, 16)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> rope.backward(t, 1, 2, 3, new int[] {-1, 0}));
            assertTrue(e.getMessage().contains("Rope.backward") && e.getMessage().contains("positions[0] = -1"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> rope.forward(t, 1, 2, 3, new int[] {0, 1, 2}));
            assertTrue(e.getMessage().contains("positions has length 3, expected 2"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> rope.forward(t, 1, 2, 2, new int[] {0, 1}));
            assertTrue(e.getMessage().contains("(1, 2, 3, 4)") && e.getMessage().contains("(1, 2, 2, 4)"), e.getMessage());
        }
    }
}
