package fourfold.engine.kernels;

import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Test helpers for the kernel specifications: central finite differences of a scalar function
 * computed in double precision, a closeness check with a stated tolerance, and reproducible data.
 *
 * <p>Backward tests build a scalar L(x) = sum(dout * f(x)) from a double reimplementation of the
 * forward, so the reference gradient carries only the finite-difference error (about h² · f''' +
 * 1e-16 / h, ~1e-10 relative for h = 1e-5) and the stated tolerances cover the float kernel's
 * rounding alone.
 */
final class FiniteDifferences {
    private FiniteDifferences() {}

    /** dF/dx[i] for every i by central differences with step h (x is restored afterwards). */
    static double[] gradient(ToDoubleFunction<double[]> f, double[] x, double h) {
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double xi = x[i];
            x[i] = xi + h;
            double plus = f.applyAsDouble(x);
            x[i] = xi - h;
            double minus = f.applyAsDouble(x);
            x[i] = xi;
            g[i] = (plus - minus) / (2 * h);
        }
        return g;
    }

    /**
     * Fails unless |actual[i] - expected[i]| <= atol + rtol * |expected[i]| for every i; the message
     * names the first offending index, both values and the tolerance.
     */
    static void assertClose(String what, double[] expected, float[] actual, double atol, double rtol) {
        if (expected.length != actual.length) fail(what + ": length " + actual.length + ", expected " + expected.length);
        for (int i = 0; i < expected.length; i++) {
            double tol = atol + rtol * Math.abs(expected[i]);
            if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
                fail(what + ": element " + i + " is " + actual[i] + ", expected " + expected[i] + " (|diff| "
                        + Math.abs(actual[i] - expected[i]) + " > tolerance " + tol + " = " + atol + " + " + rtol + " * |expected|)");
            }
        }
    }

    static void assertClose(String what, float[] expected, float[] actual, double atol, double rtol) {
        assertClose(what, toDouble(expected), actual, atol, rtol);
    }

    /** n floats uniform in [-scale, scale), from a fixed seed. */
    static float[] randoms(long seed, int n, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        return a;
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    /** sum(w * y) in double: the scalar whose gradient w.r.t. y is w (how a backward is probed). */
    static double dot(float[] w, double[] y) {
        double s = 0;
        for (int i = 0; i < w.length; i++) s += w[i] * y[i];
        return s;
    }
}
