package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.engine.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static fourfold.engine.kernels.FiniteDifferences.assertClose;
import static fourfold.engine.kernels.FiniteDifferences.randoms;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Elementwise kernels against scalar loops; sumOfSquares against a double sum, bitwise across thread counts. */
class ElementwiseTest {
    /**
     * 1, a vector tail, and a size spanning several parallel blocks (16384 elements) with a tail;
     * for sumOfSquares it is 13 blocks of 4096, split in 2 chunks on 2 workers and 3 on 3.
     */
    private static final int[] SIZES = {1, 17, 1000, 3 * 16384 + 5};

    private static Device device;
    private static Device device3;

    @BeforeAll
    static void start() {
        device = new Device(0, 16 << 20, 2);
        device3 = new Device(1, 16 << 20, 3);
    }

    @AfterAll
    static void stop() {
        device.close();
        device3.close();
    }

    private static Tensor tensor(Device d, String name, float[] values) {
        return Tensor.of(d, MemoryTag.ACTIVATIONS, name, values, values.length);
    }

    @Test
    void addMatchesScalarSumExactly() {
        for (int n : SIZES) {
            float[] a = randoms(1, n, 3), b = randoms(2, n, 3);
            float[] expected = new float[n];
            for (int i = 0; i < n; i++) expected[i] = a[i] + b[i];
            try (Tensor ta = tensor(device, "a", a); Tensor tb = tensor(device, "b", b); Tensor out = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "out", n)) {
                Elementwise.add(ta, tb, out);
                assertClose("add n=" + n, expected, out.toArray(), 0, 0); // one float add: exact match
                Elementwise.add(ta, tb, ta); // out aliasing a
                assertClose("add in place n=" + n, expected, ta.toArray(), 0, 0);
            }
        }
    }

    @Test
    void addInPlaceAxpyAndScaleMatchScalarLoops() {
        for (int n : SIZES) {
            float[] a = randoms(3, n, 2), x = randoms(4, n, 2);
            float alpha = -0.37f, s = 1.75f;
            float[] sum = new float[n], axpy = new float[n], scaled = new float[n];
            for (int i = 0; i < n; i++) {
                sum[i] = a[i] + x[i];
                axpy[i] = Math.fma(alpha, x[i], a[i]); // documented: one fused multiply-add
                scaled[i] = a[i] * s;
            }
            try (Tensor tx = tensor(device, "x", x); Tensor t1 = tensor(device, "acc", a); Tensor t2 = tensor(device, "y", a); Tensor t3 = tensor(device, "s", a)) {
                Elementwise.addInPlace(t1, tx);
                Elementwise.axpy(alpha, tx, t2);
                Elementwise.scale(t3, s);
                assertClose("addInPlace n=" + n, sum, t1.toArray(), 0, 0);
                assertClose("axpy n=" + n, axpy, t2.toArray(), 0, 0);
                assertClose("scale n=" + n, scaled, t3.toArray(), 0, 0);
            }
        }
    }

    @Test
    void sumOfSquaresIsTheDoubleSumAndTheSameForEveryThreadCount() {
        for (int n : SIZES) {
            float[] a = randoms(5, n, 10);
            double expected = 0;
            for (float v : a) expected += (double) v * v;
            try (Tensor t2 = tensor(device, "x", a); Tensor t3 = tensor(device3, "x", a)) {
                double two = Elementwise.sumOfSquares(t2);
                double three = Elementwise.sumOfSquares(t3);
                // squares are exact in double; only the order of n additions differs: n * 2^-53 relative
                assertEquals(expected, two, expected * n * 0x1p-52, "sumOfSquares n=" + n + " vs sequential double sum");
                assertEquals(Double.doubleToRawLongBits(two), Double.doubleToRawLongBits(three),
                        "sumOfSquares n=" + n + " must be bitwise equal on 2 and 3 workers: " + two + " vs " + three);
            }
        }
    }

    /** exp: the kernels' own (also inside SwiGLU and cross-entropy) against Math.exp in double. */
    @Test
    void expIsWithinOneUlpAndHandlesTheEnds() {
        int n = 50_003; // not a whole number of vectors nor of exp chunks: the tails are exercised
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = -104f + i * (193f / n); // [-104, 89)
        float[] e;
        try (Tensor t = tensor(device, "x", x)) {
            Elementwise.exp(t, t);
            e = t.toArray();
        }
        double worst = 0;
        float worstX = 0;
        for (int i = 0; i < n; i++) {
            double exact = Math.exp(x[i]);
            if (exact > Float.MAX_VALUE) {
                assertEquals(Float.POSITIVE_INFINITY, e[i], "exp(" + x[i] + ") overflows");
                continue;
            }
            // in ulps of the result; below the normal range in ulps of the smallest normal (the subnormal spacing)
            double ulps = Math.abs(e[i] - exact) / Math.ulp((float) Math.max(exact, Float.MIN_NORMAL));
            if (ulps > worst) {
                worst = ulps;
                worstX = x[i];
            }
        }
        assertTrue(worst <= 1, "exp is " + worst + " ulps off at x = " + worstX + ", expected <= 1");
        float[] special = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, 88.72f, 88.73f, -200f, 1f};
        float[] expected = {Float.NaN, Float.POSITIVE_INFINITY, 0f, 1f, 1f, (float) Math.exp(88.72f), Float.POSITIVE_INFINITY, 0f, (float) Math.E};
        try (Tensor t = tensor(device, "x", special); Tensor out = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "y", special.length)) {
            Elementwise.exp(t, out);
            float[] got = out.toArray();
            for (int i = 0; i < special.length; i++) {
                assertEquals(expected[i], got[i], Float.isFinite(expected[i]) ? Math.ulp(expected[i]) : 0f, "exp(" + special[i] + ")");
            }
        }
    }

    @Test
    void refusesMismatchedCountsAndDevices() {
        try (Tensor a = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "a", 4, 5); Tensor b = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "b", 21);
             Tensor other = Tensor.zeros(device3, MemoryTag.ACTIVATIONS, "c", 20)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Elementwise.add(a, b, a));
            assertTrue(e.getMessage().contains("Elementwise.add") && e.getMessage().contains("(4, 5)") && e.getMessage().contains("(21)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Elementwise.axpy(1f, b, a));
            assertTrue(e.getMessage().contains("Elementwise.axpy") && e.getMessage().contains("element counts differ"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Elementwise.addInPlace(a, other));
            assertTrue(e.getMessage().contains("Elementwise.addInPlace") && e.getMessage().contains("different devices"), e.getMessage());
        }
    }
}
