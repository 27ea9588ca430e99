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

/** SwiGLU gate: silu(gate) * up against a double reference; backward against finite differences. */
class SwiGluTest {
    private static Device device;

    @BeforeAll
    static void start() {
        device = new Device(0, 32 << 20, 2);
    }

    @AfterAll
    static void stop() {
        device.close();
    }

    static double[] reference(double[] gate, double[] up) {
        double[] out = new double[gate.length];
        for (int i = 0; i < gate.length; i++) out[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
        return out;
    }

    private static Tensor t(String name, float[] v, int N, int F) {
        return Tensor.of(device, MemoryTag.ACTIVATIONS, name, v, N, F);
    }

    @Test
    void forwardMatchesDoubleReferenceIncludingSaturatedGates() {
        int[][] sizes = {{1, 1}, {3, 17}, {8, 1030}};
        for (int[] s : sizes) {
            int N = s[0], F = s[1];
            float[] g = randoms(61, N * F, 6), u = randoms(62, N * F, 2);
            if (g.length > 4) { // exp(-g) overflows / underflows float: silu -> -0 and g
                g[0] = -100f;
                g[1] = 100f;
                g[2] = -88.8f;
                g[3] = 30f;
            }
            double[] expected = reference(toDouble(g), toDouble(u));
            try (Tensor tg = t("gate", g, N, F); Tensor tu = t("up", u, N, F); Tensor out = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "h", N, F)) {
                SwiGlu.forward(tg, tu, out);
                // exp (<= 1 ulp), an add, a division and a product: 4 ulps relative
                assertClose("SwiGlu.forward (" + N + ", " + F + ")", expected, out.toArray(), 1e-30, 5e-7);
                SwiGlu.forward(tg, tu, tg); // out aliasing gate
                assertArrayEquals(out.toArray(), tg.toArray(), "SwiGlu.forward with out aliasing gate");
            }
        }
    }

    @Test
    void backwardMatchesFiniteDifferences() {
        int[][] sizes = {{1, 1}, {3, 17}, {5, 33}};
        for (int[] s : sizes) {
            int N = s[0], F = s[1];
            float[] g = randoms(71, N * F, 4), u = randoms(72, N * F, 2), dout = randoms(73, N * F, 1);
            double[] gd = toDouble(g), ud = toDouble(u);
            double[] dgExpected = FiniteDifferences.gradient(v -> FiniteDifferences.dot(dout, reference(v, ud)), gd, 1e-5);
            double[] duExpected = FiniteDifferences.gradient(v -> FiniteDifferences.dot(dout, reference(gd, v)), ud, 1e-5);
            try (Tensor tg = t("gate", g, N, F); Tensor tu = t("up", u, N, F); Tensor td = t("dout", dout, N, F);
                 Tensor dg = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "dgate", N, F); Tensor du = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "dup", N, F)) {
                SwiGlu.backward(td, tg, tu, dg, du);
                // a handful of float roundings on O(1) values vs an exact derivative: 1e-6 of scale
                assertClose("SwiGlu.backward dgate (" + N + ", " + F + ")", dgExpected, dg.toArray(), 1e-6, 1e-6);
                assertClose("SwiGlu.backward dup (" + N + ", " + F + ")", duExpected, du.toArray(), 1e-6, 1e-6);
                SwiGlu.backward(td, tg, tu, tg, tu); // gradients written over their inputs
                assertArrayEquals(dg.toArray(), tg.toArray(), "SwiGlu.backward with dgate aliasing gate");
                assertArrayEquals(du.toArray(), tu.toArray(), "SwiGlu.backward with dup aliasing up");
            }
        }
    }

    @Test
    void refusesMismatchedShapesAndDevices() {
        try (Tensor g = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "gate", 4, 6); Tensor u = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "up", 4, 5);
             Device other = new Device(3, 1 << 20, 1); Tensor o = Tensor.zeros(other, MemoryTag.ACTIVATIONS, "h", 4, 6)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SwiGlu.forward(g, u, g));
            assertTrue(e.getMessage().contains("SwiGlu.forward") && e.getMessage().contains("up has shape (4, 5)")
                    && e.getMessage().contains("(4, 6)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> SwiGlu.forward(g, g, o));
            assertTrue(e.getMessage().contains("different devices"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> SwiGlu.backward(u, g, g, g, g));
            assertTrue(e.getMessage().contains("SwiGlu.backward") && e.getMessage().contains("up has shape (4, 5)"), e.getMessage());
        }
    }
}
