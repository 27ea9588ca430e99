package fourfold.engine.pp;

import fourfold.engine.UserError;
import fourfold.engine.model.LlamaConfig;

import java.util.Arrays;
import java.util.List;

/**
 * Which decoder layers each pipeline stage holds. Stage s (of p·v) gets layers
 * [first(s), first(s) + count(s)); the embedding sits on stage 0 and the final norm, lm_head and
 * loss on the last stage, so their cost counts in the balance: where that evens the stages out,
 * the first and last stage get a layer fewer (as Llama 3 and Megatron do).
 */
public record StageSplit(int[] layers) {
    public StageSplit {
        layers = layers.clone();
        for (int n : layers) if (n < 1) throw new IllegalArgumentException("every stage needs at least one layer: " + Arrays.toString(layers));
    }

    public int stages() {
        return layers.length;
    }

    public int firstLayer(int stage) {
        int f = 0;
        for (int s = 0; s < stage; s++) f += layers[s];
        return f;
    }

    /** One past the last layer of {@code stage}. */
    public int endLayer(int stage) {
        return firstLayer(stage) + layers[stage];
    }

    /** The split a run uses: {@code --stage-layers} when given (checked), else the balanced one. */
    public static StageSplit of(LlamaConfig model, int stages, List<Integer> stageLayers) {
        int L = model.nLayers();
        if (stages > L) {
            throw new UserError("--pp x --virtual-stages = " + stages + " stages but the model has only " + L
                    + " layers; every stage needs a layer: choose --pp x --virtual-stages <= " + L);
        }
        if (stageLayers == null || stageLayers.isEmpty()) return balanced(model, stages);
        int sum = stageLayers.stream().mapToInt(Integer::intValue).sum();
        if (stageLayers.size() != stages || sum != L || stageLayers.stream().anyMatch(n -> n < 1)) {
            throw new UserError("--stage-layers " + join(stageLayers) + " must give " + stages + " counts >= 1 (one per stage: --pp x --virtual-stages)"
                    + " adding up to the model's " + L + " layers, e.g. --stage-layers " + join(balanced(model, stages).layers));
        }
        return new StageSplit(stageLayers.stream().mapToInt(Integer::intValue).toArray());
    }

    /** The balanced split for a model, with its costs from {@link #costs}. */
    public static StageSplit balanced(LlamaConfig model, int stages) {
        double[] c = costs(model);
        return balanced(model.nLayers(), stages, c[0], c[1], c[2]);
    }

    /**
     * Relative costs of the embedding, one decoder layer and the head (forward + backward FLOPs per
     * token at the longest sequence; the embedding's gather and scatter-add touch one row a token).
     */
    static double[] costs(LlamaConfig m) {
        double C = m.dim(), T = m.maxSeq();
        double layer = 2.0 * m.parametersPerLayer() + 4.0 * T * C / 2; // matmuls + causal attention (half the scores)
        double head = 2.0 * C * m.vocabSize();
        double embedding = C;
        return new double[]{3 * embedding, 3 * layer, 3 * head};
    }

    /**
     * Splits L layers over {@code stages} contiguous stages, each with >= 1 layer, minimising the
     * most expensive stage (embedding on the first, head on the last), then, among splits with that
     * maximum, the sum of squared stage costs (the most even one). Pure and deterministic.
     */
    public static StageSplit balanced(int L, int stages, double embedding, double layer, double head) {
        if (stages < 1 || stages > L) throw new IllegalArgumentException("cannot split " + L + " layers over " + stages + " stages");
        double best = Double.POSITIVE_INFINITY;
        for (int n = 1; n <= L; n++) { // the maximum is one of the possible stage costs: try them from below
            for (double extra : new double[]{0, embedding, head, embedding + head}) {
                double bound = n * layer + extra;
                if (bound < best && fits(L, stages, embedding, layer, head, bound)) best = bound;
            }
        }
        return new StageSplit(mostEven(L, stages, embedding, layer, head, best * (1 + 1e-12)));
    }

    private static double cost(int stage, int stages, int n, double embedding, double layer, double head) {
        return n * layer + (stage == 0 ? embedding : 0) + (stage == stages - 1 ? head : 0);
    }

    private static boolean fits(int L, int stages, double embedding, double layer, double head, double bound) {
        return mostEven(L, stages, embedding, layer, head, bound * (1 + 1e-12)) != null;
    }

    /** Dynamic programme over (stage, layers used): least sum of squares with every stage under bound; null if none. */
    private static int[] mostEven(int L, int stages, double embedding, double layer, double head, double bound) {
        double[][] sq = new double[stages + 1][L + 1];
        int[][] pick = new int[stages + 1][L + 1];
        for (double[] row : sq) Arrays.fill(row, Double.POSITIVE_INFINITY);
        sq[0][0] = 0;
        for (int s = 0; s < stages; s++) {
            for (int used = 0; used <= L; used++) {
                if (sq[s][used] == Double.POSITIVE_INFINITY) continue;
                for (int n = 1; used + n <= L; n++) {
                    double c = cost(s, stages, n, embedding, layer, head);
                    if (c > bound) break;
                    double v = sq[s][used] + c * c;
                    if (v < sq[s + 1][used + n]) {
                        sq[s + 1][used + n] = v;
                        pick[s + 1][used + n] = n;
                    }
                }
            }
        }
        if (sq[stages][L] == Double.POSITIVE_INFINITY) return null;
        int[] layers = new int[stages];
        for (int s = stages, used = L; s > 0; s--) {
            layers[s - 1] = pick[s][used];
            used -= layers[s - 1];
        }
        return layers;
    }

    private static String join(List<Integer> xs) {
        return String.join(",", xs.stream().map(String::valueOf).toList());
    }

    private static String join(int[] xs) {
        return join(Arrays.stream(xs).boxed().toList());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof StageSplit s && Arrays.equals(layers, s.layers);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(layers);
    }

    @Override
    public String toString() {
        return join(layers);
    }
}
