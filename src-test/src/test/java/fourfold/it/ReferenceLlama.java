package fourfold.it;

import fourfold.engine.model.LlamaConfig;

import java.util.Map;

/**
 * A naive double-precision Llama written straight from the Hugging Face definition (scalar loops,
 * no blocking, no sharing with the engine's code): the reference that finite differences are
 * taken on. Weights are full tensors by Hugging Face name, row-major, Linear weights [out, in].
 */
final class ReferenceLlama {
    private final LlamaConfig c;
    private final Map<String, double[]> w;

    ReferenceLlama(LlamaConfig config, Map<String, double[]> weights) {
        this.c = config;
        this.w = weights;
    }

    /** Logits (B*T, V) of the inputs (B*T), each row of T tokens at positions 0..T-1. */
    double[] logits(int[] inputs, int B, int T) {
        int C = c.dim(), N = B * T, V = c.vocabSize();
        double[] x = new double[N * C];
        double[] emb = w.get("model.embed_tokens.weight");
        for (int n = 0; n < N; n++) System.arraycopy(emb, inputs[n] * C, x, n * C, C);
        for (int l = 0; l < c.nLayers(); l++) {
            String p = "model.layers." + l + ".";
            double[] h = attention(rmsNorm(x, w.get(p + "input_layernorm.weight"), N), p, B, T);
            for (int i = 0; i < x.length; i++) x[i] += h[i];
            double[] xn = rmsNorm(x, w.get(p + "post_attention_layernorm.weight"), N);
            int F = c.ffnDim();
            double[] g = linear(xn, w.get(p + "mlp.gate_proj.weight"), N, C, F);
            double[] u = linear(xn, w.get(p + "mlp.up_proj.weight"), N, C, F);
            double[] a = new double[N * F];
            for (int i = 0; i < a.length; i++) a[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
            double[] d = linear(a, w.get(p + "mlp.down_proj.weight"), N, F, C);
            for (int i = 0; i < x.length; i++) x[i] += d[i];
        }
        return linear(rmsNorm(x, w.get("model.norm.weight"), N), w.get("lm_head.weight"), N, C, V);
    }

    /** Mean over the B*T tokens of -log softmax(logits)[target]. */
    double meanLoss(int[] inputs, int[] targets, int B, int T) {
        double[] logits = logits(inputs, B, T);
        int V = c.vocabSize(), N = B * T;
        double sum = 0;
        for (int n = 0; n < N; n++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < V; v++) max = Math.max(max, logits[n * V + v]);
            double se = 0;
            for (int v = 0; v < V; v++) se += Math.exp(logits[n * V + v] - max);
            sum += Math.log(se) + max - logits[n * V + targets[n]];
        }
        return sum / N;
    }

    private double[] rmsNorm(double[] x, double[] weight, int N) {
        int C = c.dim();
        double[] out = new double[x.length];
        for (int n = 0; n < N; n++) {
            double ss = 0;
            for (int i = 0; i < C; i++) ss += x[n * C + i] * x[n * C + i];
            double r = 1 / Math.sqrt(ss / C + c.normEps());
            for (int i = 0; i < C; i++) out[n * C + i] = x[n * C + i] * r * weight[i];
        }
        return out;
    }

    /** x (N, in) · Wᵀ, W (out, in). */
    private static double[] linear(double[] x, double[] W, int N, int in, int out) {
        double[] y = new double[N * out];
        for (int n = 0; n < N; n++)
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int i = 0; i < in; i++) s += x[n * in + i] * W[o * in + i];
                y[n * out + o] = s;
            }
        return y;
    }

    private void rope(double[] x, int B, int T, int heads) {
        int hs = c.headSize(), half = hs / 2;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int h = 0; h < heads; h++) {
                    int base = ((b * T + t) * heads + h) * hs;
                    for (int i = 0; i < half; i++) {
                        double angle = t * Math.pow(c.ropeTheta(), -2.0 * i / hs);
                        double x1 = x[base + i], x2 = x[base + i + half];
                        x[base + i] = x1 * Math.cos(angle) - x2 * Math.sin(angle);
                        x[base + i + half] = x2 * Math.cos(angle) + x1 * Math.sin(angle);
                    }
                }
    }

    private double[] attention(double[] xn, String p, int B, int T) {
        int C = c.dim(), N = B * T, nh = c.nHeads(), nkv = c.nKvHeads(), hs = c.headSize();
        double[] q = linear(xn, w.get(p + "self_attn.q_proj.weight"), N, C, nh * hs);
        double[] k = linear(xn, w.get(p + "self_attn.k_proj.weight"), N, C, nkv * hs);
        double[] v = linear(xn, w.get(p + "self_attn.v_proj.weight"), N, C, nkv * hs);
        rope(q, B, T, nh);
        rope(k, B, T, nkv);
        double[] y = new double[N * nh * hs];
        double scale = 1 / Math.sqrt(hs);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < nh; h++) {
                int kvh = h / (nh / nkv);
                for (int t = 0; t < T; t++) {
                    double[] s = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= t; j++) {
                        double d = 0;
                        for (int i = 0; i < hs; i++) d += q[((b * T + t) * nh + h) * hs + i] * k[((b * T + j) * nkv + kvh) * hs + i];
                        s[j] = d * scale;
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= t; j++) sum += s[j] = Math.exp(s[j] - max);
                    for (int j = 0; j <= t; j++)
                        for (int i = 0; i < hs; i++) y[((b * T + t) * nh + h) * hs + i] += s[j] / sum * v[((b * T + j) * nkv + kvh) * hs + i];
                }
            }
        return linear(y, w.get(p + "self_attn.o_proj.weight"), N, nh * hs, C);
    }
}
