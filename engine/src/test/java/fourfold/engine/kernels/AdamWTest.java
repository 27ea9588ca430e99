package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.engine.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static fourfold.engine.kernels.FiniteDifferences.assertClose;
import static fourfold.engine.kernels.FiniteDifferences.randoms;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** AdamW against the textbook algorithm in double and against torch.optim.AdamW's own numbers. */
class AdamWTest {
    private static Device device;

    @BeforeAll
    static void start() {
        device = new Device(0, 16 << 20, 2);
    }

    @AfterAll
    static void stop() {
        device.close();
    }

    private static Tensor t(String name, float[] v) {
        return Tensor.of(device, MemoryTag.OPTIMIZER, name, v, v.length);
    }

    /** The torch.optim.AdamW documentation's algorithm, element by element, in double. */
    private static void referenceStep(double[] p, double[] g, double[] m, double[] v, int t, double lr, double b1, double b2, double eps, double wd) {
        for (int i = 0; i < p.length; i++) {
            p[i] -= lr * wd * p[i];
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            double mhat = m[i] / (1 - Math.pow(b1, t)), vhat = v[i] / (1 - Math.pow(b2, t));
            p[i] -= lr * mhat / (Math.sqrt(vhat) + eps);
        }
    }

    @Test
    void stepsMatchTheTextbookAlgorithmInDouble() {
        for (int n : new int[] {1, 37, 16384 + 5}) { // 2 parallel blocks, the second a tail
            float lr = 3e-3f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
            float[] p0 = randoms(141, n, 1);
            double[] p = FiniteDifferences.toDouble(p0), m = new double[n], v = new double[n];
            try (Tensor tp = t("param", p0); Tensor tg = Tensor.zeros(device, MemoryTag.GRADS, "grad", n);
                 Tensor tm = Tensor.zeros(device, MemoryTag.OPTIMIZER, "exp_avg", n); Tensor tv = Tensor.zeros(device, MemoryTag.OPTIMIZER, "exp_avg_sq", n)) {
                for (int step = 1; step <= 3; step++) {
                    float[] g = randoms(150 + step, n, 0.5);
                    tg.copyFrom(g);
                    AdamW.step(tp, tg, tm, tv, step, lr, b1, b2, eps, wd);
                    referenceStep(p, FiniteDifferences.toDouble(g), m, v, step, lr, b1, b2, eps, wd);
                }
                // float32 state: each step rounds terms of size |g| <= 0.5 (m) and g² <= 0.25 (v), so m and v
                // carry a few ulps of those (m can cancel to near 0: absolute bounds); p moves by ~lr = 3e-3
                // per step, and the update's float error is a few ulps of |p| <= 1.
                assertClose("AdamW exp_avg n=" + n, m, tm.toArray(), 1e-7, 1e-6);
                assertClose("AdamW exp_avg_sq n=" + n, v, tv.toArray(), 2e-8, 1e-6);
                assertClose("AdamW param n=" + n, p, tp.toArray(), 3e-7, 1e-6);
            }
        }
    }

    @Test
    void zeroWeightDecayAndZeroGradientLeaveParamsUnchangedOnTheFirstStep() {
        float[] p0 = randoms(161, 33, 1);
        try (Tensor tp = t("param", p0); Tensor tg = Tensor.zeros(device, MemoryTag.GRADS, "grad", 33);
             Tensor tm = Tensor.zeros(device, MemoryTag.OPTIMIZER, "exp_avg", 33); Tensor tv = Tensor.zeros(device, MemoryTag.OPTIMIZER, "exp_avg_sq", 33)) {
            AdamW.step(tp, tg, tm, tv, 1, 1e-2f, 0.9f, 0.999f, 1e-8f, 0f);
            assertArrayEquals(p0, tp.toArray(), "m = 0 gives a zero update, and (1 - lr * 0) multiplies exactly");
        }
    }

    // Printed by scripts/golden/adamw_reference.py (torch 1.13, AdamW(lr=1e-3f, betas=(0.9f, 0.95f), eps=1e-8f,
    // weight_decay=0.1f), 3 steps, foreach=False) for the inputs rebuilt in matchesTorchOptimAdamW.
    private static final float[] PARAM = {
            -7.7842754e-01f, -2.0515923e-01f, 3.769766e-01f, -6.2715e-01f, -4.5790676e-02f, 5.3042394e-01f,
            -4.688496e-01f, 1.1220518e-01f, 6.845546e-01f, -3.096356e-01f, 2.6266626e-01f, -7.3160213e-01f,
            -1.5832777e-01f, 4.2375168e-01f, -5.782334e-01f, 9.207702e-04f, 5.772331e-01f, -4.2208415e-01f,
            1.5905893e-01f, 7.3139125e-01f, -2.6279032e-01f, 3.105305e-01f, -6.8478054e-01f, -1.1149574e-01f,
            4.7052005e-01f, -5.314171e-01f, 4.762559e-02f, 6.240415e-01f, -3.753052e-01f, 2.0591211e-01f,
            7.782309e-01f, -2.1594661e-01f, 3.5735893e-01f, -6.3796353e-01f, -6.466311e-02f, 5.172816e-01f,
            -4.846018e-01f,
    };
    private static final float[] EXP_AVG = {
            -2.7117193e-02f, 9.312498e-03f, -8.0625005e-03f, 2.8367195e-02f, 1.0992191e-02f, -2.0781254e-02f,
            3.0046882e-02f, -6.310939e-02f, 4.9101572e-02f, -4.40547e-02f, 6.8156265e-02f, -2.5000006e-02f,
            1.142969e-02f, -5.945313e-03f, -3.7718758e-02f, 1.31093785e-02f, -1.8664068e-02f, 3.216407e-02f,
            -6.0992196e-02f, 5.1218763e-02f, -4.193751e-02f, -5.5078156e-03f, -2.2882815e-02f, 1.3546878e-02f,
            -3.828125e-03f, -3.560157e-02f, 1.5226566e-02f, -1.654688e-02f, 3.4281258e-02f, -5.8875013e-02f,
            5.333595e-02f, -3.982032e-02f, -3.390628e-03f, -2.0765629e-02f, 1.5664065e-02f, -1.7109374e-03f,
            -3.3484384e-02f,
    };
    private static final float[] EXP_AVG_SQ = {
            3.2425013e-03f, 1.0872683e-02f, 1.8449712e-03f, 1.2451488e-02f, 1.857674e-03f, 1.0659792e-02f,
            3.2806098e-03f, 9.729953e-03f, 6.113779e-03f, 5.6686485e-03f, 1.0357181e-02f, 3.0175787e-03f,
            1.0978465e-02f, 1.7767412e-03f, 1.2432743e-02f, 1.9461369e-03f, 1.0516521e-02f, 3.5257654e-03f,
            9.2090545e-03f, 6.515627e-03f, 5.3044446e-03f, 1.06197e-02f, 2.8100666e-03f, 1.1101657e-02f,
            1.7259221e-03f, 1.2150188e-02f, 2.05201e-03f, 1.0390657e-02f, 3.788331e-03f, 8.7055685e-03f,
            6.9348845e-03f, 4.9576503e-03f, 1.06036095e-02f, 2.6199652e-03f, 1.1242258e-02f, 1.6925129e-03f,
            1.1885042e-02f,
    };

    @Test
    void matchesTorchOptimAdamW() {
        int n = 37;
        float[] p = new float[n];
        for (int i = 0; i < n; i++) p[i] = ((i * 37) % 101 - 50) / 64.0f; // exact, as in the script
        try (Tensor tp = t("param", p); Tensor tg = Tensor.zeros(device, MemoryTag.GRADS, "grad", n);
             Tensor tm = Tensor.zeros(device, MemoryTag.OPTIMIZER, "exp_avg", n); Tensor tv = Tensor.zeros(device, MemoryTag.OPTIMIZER, "exp_avg_sq", n)) {
            float[] g = new float[n];
            for (int step = 1; step <= 3; step++) {
                for (int i = 0; i < n; i++) g[i] = ((i * 53 + step * 17) % 97 - 48) / 128.0f;
                tg.copyFrom(g);
                AdamW.step(tp, tg, tm, tv, step, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f);
            }
            // same operations, same roundings, same fused multiply-adds: bitwise equal
            assertClose("AdamW exp_avg vs torch", EXP_AVG, tm.toArray(), 0, 0);
            assertClose("AdamW exp_avg_sq vs torch", EXP_AVG_SQ, tv.toArray(), 0, 0);
            assertClose("AdamW param vs torch", PARAM, tp.toArray(), 0, 0);
        }
    }

    @Test
    void refusesMismatchedTensorsAndBadSteps() {
        try (Tensor p = Tensor.zeros(device, MemoryTag.PARAMS, "w", 4, 4); Tensor g = Tensor.zeros(device, MemoryTag.GRADS, "w.grad", 15);
             Tensor m = Tensor.zeros(device, MemoryTag.OPTIMIZER, "exp_avg", 16); Tensor v = Tensor.zeros(device, MemoryTag.OPTIMIZER, "exp_avg_sq", 16);
             Device other = new Device(3, 1 << 20, 1); Tensor vOther = Tensor.zeros(other, MemoryTag.OPTIMIZER, "exp_avg_sq", 16)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AdamW.step(p, g, m, v, 1, 1e-3f, 0.9f, 0.95f, 1e-8f, 0f));
            assertTrue(e.getMessage().contains("AdamW.step") && e.getMessage().contains("w.grad(15)") && e.getMessage().contains("w(4, 4)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> AdamW.step(p, m, m, v, 0, 1e-3f, 0.9f, 0.95f, 1e-8f, 0f));
            assertTrue(e.getMessage().contains("AdamW.step") && e.getMessage().contains("1-based"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> AdamW.step(p, m, m, v, 1, 1e-3f, 1f, 0.95f, 1e-8f, 0f));
            assertTrue(e.getMessage().contains("betas"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> AdamW.step(p, m, m, vOther, 1, 1e-3f, 0.9f, 0.95f, 1e-8f, 0f));
            assertTrue(e.getMessage().contains("different devices"), e.getMessage());
        }
    }
}
