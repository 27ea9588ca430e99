package fourfold.it;

import fourfold.devices.Device;
import fourfold.engine.model.Llama;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.model.MicroBatch;
import fourfold.engine.model.Parameter;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole model against a naive double-precision Llama: the loss must agree, and every
 * parameter's gradient must agree with central finite differences taken on the double model.
 */
class GradientCheckTest {
    // Small but complete: GQA (4 heads, 2 kv heads), 2 layers, odd ffn, vocab not a multiple of 16.
    static final LlamaConfig CONFIG = LlamaConfig.of(37, 16, 2, 4, 2, 24, 8);
    static final int B = 2, T = 7;

    @Test
    void lossAndEveryGradientMatchFiniteDifferencesOfADoubleReference() {
        SplittableRandom rng = new SplittableRandom(7);
        int[] inputs = new int[B * T], targets = new int[B * T];
        for (int i = 0; i < B * T; i++) {
            inputs[i] = rng.nextInt(CONFIG.vocabSize());
            targets[i] = rng.nextInt(CONFIG.vocabSize());
        }
        try (Device device = new Device(0, 64 << 20, 1); Llama model = Llama.singleDevice(CONFIG, device)) {
            // Weights larger than the 0.02 init so that attention is far from uniform and every path matters.
            Map<String, float[]> weights = new HashMap<>();
            for (Parameter p : model.parameters()) {
                float[] v = new float[Math.toIntExact(p.localNumel())];
                for (int i = 0; i < v.length; i++) v[i] = (float) (p.fullShape().length == 1 ? 1 + 0.3 * rng.nextGaussian() : 0.3 * rng.nextGaussian());
                weights.put(p.name(), v);
            }
            model.load(p -> weights.get(p.name()));
            Map<String, double[]> ref = new HashMap<>();
            weights.forEach((k, v) -> {
                double[] d = new double[v.length];
                for (int i = 0; i < v.length; i++) d[i] = v[i];
                ref.put(k, d);
            });
            ReferenceLlama reference = new ReferenceLlama(CONFIG, ref);

            MicroBatch mb = MicroBatch.causal(B, T, inputs, targets);
            Llama.ForwardContext ctx = model.forward(mb, null, 1f / (B * T));
            double loss = ctx.lossSum() / (B * T);
            double refLoss = reference.meanLoss(inputs, targets, B, T);
            assertEquals(refLoss, loss, 1e-5 * Math.abs(refLoss), "mean loss vs the double reference");
            model.backward(ctx, null);

            double h = 1e-5;
            for (Parameter p : model.parameters()) {
                float[] grad = p.grad().toArray();
                double[] w = ref.get(p.name());
                double maxFd = 0, maxErr = 0;
                for (int s = 0; s < 12; s++) {
                    int i = rng.nextInt(w.length);
                    double w0 = w[i];
                    w[i] = w0 + h;
                    double up = reference.meanLoss(inputs, targets, B, T);
                    w[i] = w0 - h;
                    double down = reference.meanLoss(inputs, targets, B, T);
                    w[i] = w0;
                    double fd = (up - down) / (2 * h);
                    maxFd = Math.max(maxFd, Math.abs(fd));
                    maxErr = Math.max(maxErr, Math.abs(fd - grad[i]));
                }
                double tol = 1e-3 * maxFd + 1e-6;
                assertTrue(maxErr <= tol, p.name() + ": gradient differs from finite differences by " + maxErr + " (largest |fd| " + maxFd + ", tolerance " + tol + ")");
            }
        }
    }
}
