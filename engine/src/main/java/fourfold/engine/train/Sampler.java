package fourfold.engine.train;

import java.util.Arrays;
import java.util.SplittableRandom;

/** Picks the next token from logits: temperature, top-k, then a draw from the softmax. */
public final class Sampler {
    private Sampler() {}

    public static int sample(float[] logits, double temperature, int topK, SplittableRandom rng) {
        int V = logits.length;
        if (temperature == 0) {
            int best = 0;
            for (int i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
            return best;
        }
        double cutoff = Double.NEGATIVE_INFINITY;
        if (topK > 0 && topK < V) {
            float[] sorted = logits.clone();
            Arrays.sort(sorted);
            cutoff = sorted[V - topK];
        }
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l);
        double[] p = new double[V];
        double sum = 0;
        for (int i = 0; i < V; i++) {
            p[i] = logits[i] < cutoff ? 0 : Math.exp((logits[i] - max) / temperature);
            sum += p[i];
        }
        double u = rng.nextDouble() * sum;
        for (int i = 0; i < V; i++) {
            u -= p[i];
            if (u < 0) return i;
        }
        return V - 1;
    }
}
