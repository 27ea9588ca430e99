package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.engine.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static fourfold.engine.kernels.FiniteDifferences.assertClose;
import static fourfold.engine.kernels.FiniteDifferences.randoms;
import static fourfold.engine.kernels.FiniteDifferences.toDouble;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** RMSNorm (HF LlamaRMSNorm, fp32) against a double reference; backward against finite differences. */
class RmsNormTest {
    private static final float EPS = 1e-5f;
    private static Device device;

    @BeforeAll
    static void start() {
        device = new Device(0, 32 << 20, 2);
    }

    @AfterAll
    static void stop() {
        device.close();
    }

    /** y = x / sqrt(mean(x²) + eps) * w, all in double. */
    static double[] reference(double[] x, double[] w, int N, int C, double eps) {
        double[] y = new double[N * C];
        for (int n = 0; n < N; n++) {
            double ss = 0;
            for (int c = 0; c < C; c++) ss += x[n * C + c] * x[n * C + c];
            double r = 1 / Math.sqrt(ss / C + eps);
            for (int c = 0; c < C; c++) y[n * C + c] = x[n * C + c] * r * w[c];
        }
        return y;
    }

    private static Tensor t(String name, float[] v, int... shape) {
        return Tensor.of(device, MemoryTag.ACTIVATIONS, name, v, shape);
    }

    @Test
    void forwardMatchesDoubleReference() {
        int[][] sizes = {{1, 1}, {3, 17}, {7, 130}, {64, 384}};
        for (int[] s : sizes) {
            int N = s[0], C = s[1];
            float[] x = randoms(11, N * C, 2), w = randoms(12, C, 1.5);
            double[] expected = reference(toDouble(x), toDouble(w), N, C, EPS);
            try (Tensor tx = t("x", x, N, C); Tensor tw = t("w", w, C); Tensor out = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "y", N, C);
                 Tensor rstd = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "rstd", N)) {
                RmsNorm.forward(tx, tw, EPS, out, rstd);
                // float32: a C-term sum of squares, a sqrt, a division and two products: a few ulps of |y|
                assertClose("RmsNorm.forward (" + N + ", " + C + ")", expected, out.toArray(), 1e-6, 2e-6);
                double[] r = new double[N];
                for (int n = 0; n < N; n++) {
                    double ss = 0;
                    for (int c = 0; c < C; c++) ss += (double) x[n * C + c] * x[n * C + c];
                    r[n] = 1 / Math.sqrt(ss / C + EPS);
                }
                assertClose("RmsNorm rstd (" + N + ", " + C + ")", r, rstd.toArray(), 0, 2e-6);
            }
        }
    }

    @Test
    void backwardMatchesFiniteDifferencesAndAccumulatesDweight() {
        int[][] sizes = {{1, 1}, {3, 17}, {4, 40}};
        for (int[] s : sizes) {
            int N = s[0], C = s[1];
            float[] x = randoms(21, N * C, 2), w = randoms(22, C, 1.5), dout = randoms(23, N * C, 1);
            float[] dw0 = randoms(24, C, 1);
            double[] xd = toDouble(x), wd = toDouble(w);
            double[] gx = FiniteDifferences.gradient(v -> FiniteDifferences.dot(dout, reference(v, wd, N, C, EPS)), xd, 1e-5);
            double[] gw = FiniteDifferences.gradient(v -> FiniteDifferences.dot(dout, reference(xd, v, N, C, EPS)), wd, 1e-5);
            for (int c = 0; c < C; c++) gw[c] += dw0[c]; // dweight is accumulated onto what it held
            try (Tensor tx = t("x", x, N, C); Tensor tw = t("w", w, C); Tensor td = t("dout", dout, N, C);
                 Tensor y = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "y", N, C); Tensor rstd = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "rstd", N);
                 Tensor dx = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "dx", N, C); Tensor dw = t("dw", dw0, C)) {
                RmsNorm.forward(tx, tw, EPS, y, rstd);
                RmsNorm.backward(td, tx, tw, rstd, dx, dw);
                // float32 backward of a C-term reduction vs an exact gradient: ~1e-5 of the gradient's scale
                assertClose("RmsNorm.backward dx (" + N + ", " + C + ")", gx, dx.toArray(), 2e-5, 2e-5);
                assertClose("RmsNorm.backward dweight (" + N + ", " + C + ")", gw, dw.toArray(), 2e-5, 2e-5);
                // dx may overwrite dout
                dw.copyFrom(dw0);
                RmsNorm.backward(td, tx, tw, rstd, td, dw);
                assertArrayEquals(dx.toArray(), td.toArray(), "RmsNorm.backward with dx aliasing dout (" + N + ", " + C + ")");
                assertClose("RmsNorm.backward dweight with dx aliasing dout", gw, dw.toArray(), 2e-5, 2e-5);
            }
        }
    }

    @Test
    void dweightIsBitwiseTheSameForEveryThreadCount() {
        int N = 1024, C = 130;
        float[] x = randoms(31, N * C, 2), w = randoms(32, C, 1), dout = randoms(33, N * C, 1);
        float[][] results = new float[2][];
        int[] threads = {1, 3};
        for (int k = 0; k < 2; k++) {
            try (Device d = new Device(5 + k, 8 << 20, threads[k]);
                 Tensor tx = Tensor.of(d, MemoryTag.ACTIVATIONS, "x", x, N, C); Tensor tw = Tensor.of(d, MemoryTag.PARAMS, "w", w, C);
                 Tensor td = Tensor.of(d, MemoryTag.ACTIVATIONS, "dout", dout, N, C); Tensor y = Tensor.zeros(d, MemoryTag.ACTIVATIONS, "y", N, C);
                 Tensor rstd = Tensor.zeros(d, MemoryTag.ACTIVATIONS, "rstd", N); Tensor dx = Tensor.zeros(d, MemoryTag.ACTIVATIONS, "dx", N, C);
                 Tensor dw = Tensor.zeros(d, MemoryTag.GRADS, "dw", C)) {
                RmsNorm.forward(tx, tw, EPS, y, rstd);
                RmsNorm.backward(td, tx, tw, rstd, dx, dw);
                results[k] = dw.toArray();
            }
        }
        assertArrayEquals(results[0], results[1], "RmsNorm dweight on 1 and 3 workers must be bitwise equal");
    }

    @Test
    void refusesBadShapesAndDevices() {
        try (Tensor x = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "x", 2, 3, 8); Tensor w = Tensor.zeros(device, MemoryTag.PARAMS, "w", 7);
             Tensor w8 = Tensor.zeros(device, MemoryTag.PARAMS, "w", 8); Tensor out = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "y", 6, 8);
             Tensor rstd = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "rstd", 5); Tensor rstd6 = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "rstd", 6);
             Device other = new Device(9, 1 << 20, 1); Tensor wOther = Tensor.zeros(other, MemoryTag.PARAMS, "w", 8)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RmsNorm.forward(x, w, EPS, out, rstd6));
            assertTrue(e.getMessage().contains("RmsNorm.forward") && e.getMessage().contains("(7)") && e.getMessage().contains("expected (8)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> RmsNorm.forward(x, w8, EPS, out, rstd));
            assertTrue(e.getMessage().contains("rstd") && e.getMessage().contains("expected 6"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> RmsNorm.forward(x, wOther, EPS, out, rstd6));
            assertTrue(e.getMessage().contains("different devices"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> RmsNorm.backward(out, x, w8, rstd6, x.view(6, 8), w));
            assertTrue(e.getMessage().contains("RmsNorm.backward") && e.getMessage().contains("expected (8)"), e.getMessage());
        }
    }
}
