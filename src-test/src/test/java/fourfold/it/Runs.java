package fourfold.it;

import fourfold.engine.data.Sampling;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.train.Layout;
import fourfold.engine.train.LrSchedule;
import fourfold.engine.train.StepMetrics;
import fourfold.engine.train.TrainOptions;
import fourfold.engine.train.Trainer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Short training runs of the `test` preset under a given layout, and how parity tests compare them. */
final class Runs {
    private Runs() {}

    /** The losses of every step and the final full weights. */
    record Result(List<Double> losses, List<Double> gradNorms, Map<String, float[]> weights) {}

    static TrainOptions options(LlamaConfig model, int steps, int batch, int seq) {
        // Warmup + cosine and clipping on, so that schedule and global-norm clipping are exercised.
        return new TrainOptions(model, null, steps, batch, seq, 3e-3, 3e-4, LrSchedule.Kind.COSINE, 5,
                0.1, 1.0, 0.9, 0.99, 1e-8, 42, Sampling.RANDOM, 0, 8);
    }

    static Result train(TrainOptions options, Layout layout) {
        return train(options, layout, Trainer.DpOptions.DEFAULT);
    }

    static Result train(TrainOptions options, Layout layout, Trainer.DpOptions dp) {
        List<Double> losses = new ArrayList<>(), norms = new ArrayList<>();
        try (Trainer t = new Trainer(options, layout, Trainer.Hardware.local(1, 256L << 20), dp)) {
            Map<String, float[]> w = t.train((StepMetrics m) -> {
                losses.add(m.loss());
                norms.add(m.gradNorm());
            }, null, 0);
            return new Result(losses, norms, w);
        }
    }

    /**
     * Losses within {@code tol} relative, and every final weight tensor within {@code tol} relative
     * difference ‖a − b‖ / ‖a‖. (Element-wise, AdamW turns summation-order noise in near-zero
     * gradients into updates of size ~lr, so single elements drift by ~1e-6 even between two
     * single-device runs that only differ in micro-batching.)
     */
    static void assertClose(Result reference, Result run, double tol, String what) {
        assertEquals(reference.losses().size(), run.losses().size(), what + ": number of steps");
        for (int s = 0; s < reference.losses().size(); s++) {
            double a = reference.losses().get(s), b = run.losses().get(s);
            assertEquals(a, b, tol * Math.abs(a), what + ": loss of step " + (s + 1) + " vs the single-device run");
        }
        for (var e : reference.weights().entrySet()) {
            float[] a = e.getValue(), b = run.weights().get(e.getKey());
            double diff = 0, norm = 0, maxErr = 0;
            for (int i = 0; i < a.length; i++) {
                double d = (double) a[i] - b[i];
                diff += d * d;
                norm += (double) a[i] * a[i];
                maxErr = Math.max(maxErr, Math.abs(d));
            }
            double rel = Math.sqrt(diff / norm);
            assertTrue(rel <= tol, what + ": final " + e.getKey() + " differs by " + rel + " relative (largest element difference " + maxErr + ", tolerance " + tol + ")");
        }
    }

    /** The global gradient norm of every step within {@code tol} relative. */
    static void assertGradNormsClose(Result reference, Result run, double tol, String what) {
        for (int s = 0; s < reference.gradNorms().size(); s++) {
            double a = reference.gradNorms().get(s), b = run.gradNorms().get(s);
            assertEquals(a, b, tol * Math.abs(a), what + ": gradient norm of step " + (s + 1) + " vs the single-device run");
        }
    }

    static void assertBitwiseEqual(Result a, Result b, String what) {
        assertEquals(a.losses(), b.losses(), what + ": losses of two runs must be bitwise identical");
        for (var e : a.weights().entrySet()) {
            assertTrue(java.util.Arrays.equals(e.getValue(), b.weights().get(e.getKey())), what + ": " + e.getKey() + " differs between two runs");
        }
    }
}
