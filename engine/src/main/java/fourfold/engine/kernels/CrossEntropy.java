package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.engine.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Softmax cross-entropy over the vocabulary, fused with its gradient.
 *
 * <p>Built from four row-wise pieces that vocab-parallel cross-entropy (tensor parallel, each rank
 * holding logits for vocab columns [vocabStart, vocabStart + V)) reuses with an all-reduce between
 * them: {@link #rowMax} (all-reduce max), {@link #rowSumExp} (all-reduce sum),
 * {@link #targetLogits} (all-reduce sum: exactly one rank holds each target) and {@link #gradient}.
 * The row loss is log(sumExp) + max - targetLogit, in double.
 */
public final class CrossEntropy {
    private CrossEntropy() {}

    private static final VectorSpecies<Float> S = KernelSupport.FLOATS;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /**
     * logits (N,V), targets (N) -> returns the SUM over rows of -log softmax(logits)[target]
     * (accumulated in double), and writes dlogits (N,V) = (softmax - onehot) * gradScale.
     * dlogits may be the logits tensor itself (in place).
     */
    public static double forwardBackward(Tensor logits, int[] targets, float gradScale, Tensor dlogits) {
        int N = logits.rows();
        requireTargetsInVocab("CrossEntropy.forwardBackward", logits, targets);
        float[] max = new float[N], sumExp = new float[N], target = new float[N];
        rowMax(logits, max);
        rowSumExp(logits, max, sumExp);
        targetLogits(logits, targets, 0, target);
        double loss = lossSum(max, sumExp, target); // before gradient(): dlogits may overwrite logits
        gradient(logits, max, sumExp, targets, 0, gradScale, dlogits);
        return loss;
    }

    /** Sum of the row losses, no gradient (evaluation). */
    public static double forward(Tensor logits, int[] targets) {
        int N = logits.rows();
        requireTargetsInVocab("CrossEntropy.forward", logits, targets);
        float[] max = new float[N], sumExp = new float[N], target = new float[N];
        rowMax(logits, max);
        rowSumExp(logits, max, sumExp);
        targetLogits(logits, targets, 0, target);
        return lossSum(max, sumExp, target);
    }

    /** Sum over rows of log(sumExp) + max - targetLogit, in double, rows in order. */
    public static double lossSum(float[] max, float[] sumExp, float[] targetLogit) {
        KernelSupport.requireLength("CrossEntropy.lossSum", "sumExp", sumExp.length, max.length, "one per row, as max");
        KernelSupport.requireLength("CrossEntropy.lossSum", "targetLogit", targetLogit.length, max.length, "one per row, as max");
        double loss = 0;
        for (int n = 0; n < max.length; n++) {
            loss += Math.log(sumExp[n]) + max[n] - (double) targetLogit[n];
        }
        return loss;
    }

    /** out[n] = max over v of logits[n, v]. logits (N,V), out (N). */
    public static void rowMax(Tensor logits, float[] out) {
        int N = logits.rows(), V = logits.cols();
        KernelSupport.requireLength("CrossEntropy.rowMax", "out", out.length, N, "one per row of " + logits);
        MemorySegment sl = logits.segment();
        Device device = logits.device();
        int bound = S.loopBound(V); // full vectors; a masked tail covers [bound, V)
        device.parallelFor(N, KernelSupport.rowGrain(V), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                long row = (long) r * V * Float.BYTES;
                FloatVector acc = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
                int i = 0;
                for (; i < bound; i += S.length()) {
                    acc = acc.max(FloatVector.fromMemorySegment(S, sl, row + (long) i * Float.BYTES, NATIVE));
                }
                if (i < V) {
                    VectorMask<Float> m = S.indexInRange(i, V);
                    acc = acc.lanewise(VectorOperators.MAX, FloatVector.fromMemorySegment(S, sl, row + (long) i * Float.BYTES, NATIVE, m), m);
                }
                out[r] = acc.reduceLanes(VectorOperators.MAX); // max is exact in any order
            }
        });
        device.recordCompute("cross_entropy.row_max", (double) N * V, 4.0 * N * V);
    }

    /** out[n] = sum over v of exp(logits[n, v] - max[n]). logits (N,V), max and out (N). */
    public static void rowSumExp(Tensor logits, float[] max, float[] out) {
        int N = logits.rows(), V = logits.cols();
        String op = "CrossEntropy.rowSumExp";
        KernelSupport.requireLength(op, "max", max.length, N, "one per row of " + logits);
        KernelSupport.requireLength(op, "out", out.length, N, "one per row of " + logits);
        MemorySegment sl = logits.segment();
        Device device = logits.device();
        device.parallelFor(N, KernelSupport.rowGrain(V), (r0, r1) -> {
            float[] lanes = new float[S.length()], e = KernelSupport.expScratch();
            for (int r = r0; r < r1; r++) {
                long row = (long) r * V * Float.BYTES;
                FloatVector acc = FloatVector.zero(S);
                for (int c = 0; c < V; c += KernelSupport.EXP_CHUNK) { // EXP_CHUNK is a whole number of vectors:
                    int len = Math.min(KernelSupport.EXP_CHUNK, V - c);   // lane j always sums columns j, j + L, ...
                    KernelSupport.exp(sl, row + (long) c * Float.BYTES, len, 1f, max[r], e);
                    int i = 0;
                    for (; i + S.length() <= len; i += S.length()) acc = acc.add(FloatVector.fromArray(S, e, i));
                    if (i < len) acc = acc.add(FloatVector.fromArray(S, e, i), S.indexInRange(i, len)); // e past len is padding
                }
                acc.intoArray(lanes, 0);
                out[r] = KernelSupport.sumLanes(lanes);
            }
        });
        device.recordCompute("cross_entropy.row_sum_exp", 3.0 * N * V, 4.0 * N * V);
    }

    /**
     * out[n] = logits[n, targets[n] - vocabStart] when the target lies in this slice
     * [vocabStart, vocabStart + V), else 0 (another rank holds it). Refuses negative targets.
     */
    public static void targetLogits(Tensor logits, int[] targets, int vocabStart, float[] out) {
        int N = logits.rows(), V = logits.cols();
        String op = "CrossEntropy.targetLogits";
        requireTargets(op, logits, targets);
        KernelSupport.requireLength(op, "out", out.length, N, "one per row of " + logits);
        MemorySegment sl = logits.segment();
        for (int n = 0; n < N; n++) {
            int v = targets[n] - vocabStart;
            out[n] = v >= 0 && v < V ? sl.getAtIndex(Tensor.F32, (long) n * V + v) : 0f;
        }
        logits.device().recordCompute("cross_entropy.target_logits", 0, 4.0 * N);
    }

    /**
     * dlogits[n, v] = (exp(logits[n, v] - max[n]) / sumExp[n] - [v + vocabStart == targets[n]]) * gradScale,
     * with max and sumExp over the whole vocabulary (all-reduced under vocab parallelism).
     * dlogits may be the logits tensor itself (in place).
     */
    public static void gradient(Tensor logits, float[] max, float[] sumExp, int[] targets, int vocabStart,
                                float gradScale, Tensor dlogits) {
        int N = logits.rows(), V = logits.cols();
        String op = "CrossEntropy.gradient";
        Tensor.requireSameDevice(op, logits, dlogits);
        KernelSupport.requireMatrix(op, dlogits, N, V);
        requireTargets(op, logits, targets);
        KernelSupport.requireLength(op, "max", max.length, N, "one per row of " + logits);
        KernelSupport.requireLength(op, "sumExp", sumExp.length, N, "one per row of " + logits);
        MemorySegment sl = logits.segment(), sd = dlogits.segment();
        Device device = logits.device();
        device.parallelFor(N, KernelSupport.rowGrain(V), (r0, r1) -> {
            float[] e = KernelSupport.expScratch();
            for (int r = r0; r < r1; r++) {
                long row = (long) r * V * Float.BYTES;
                float inv = 1.0f / sumExp[r];
                int t = targets[r] - vocabStart; // the one-hot column, if this slice holds it
                for (int c = 0; c < V; c += KernelSupport.EXP_CHUNK) {
                    int len = Math.min(KernelSupport.EXP_CHUNK, V - c);
                    KernelSupport.exp(sl, row + (long) c * Float.BYTES, len, 1f, max[r], e); // reads the chunk before it is overwritten
                    int i = 0;
                    for (; i + S.length() <= len; i += S.length()) {
                        FloatVector.fromArray(S, e, i).mul(inv).mul(gradScale).intoMemorySegment(sd, row + (long) (c + i) * Float.BYTES, NATIVE);
                    }
                    if (i < len) {
                        FloatVector.fromArray(S, e, i).mul(inv).mul(gradScale)
                                .intoMemorySegment(sd, row + (long) (c + i) * Float.BYTES, NATIVE, S.indexInRange(i, len));
                    }
                    if (t >= c && t < c + len) { // subtract the one-hot: (softmax - 1) rounded once, so the 1 is exact
                        sd.setAtIndex(Tensor.F32, (long) r * V + t, (e[t - c] * inv - 1f) * gradScale);
                    }
                }
            }
        });
        device.recordCompute("cross_entropy.gradient", 4.0 * N * V, 8.0 * N * V);
    }

    /** Targets index the full vocabulary [0, V) of logits (N,V). */
    private static void requireTargetsInVocab(String op, Tensor logits, int[] targets) {
        requireTargets(op, logits, targets);
        int V = logits.cols();
        for (int n = 0; n < targets.length; n++) {
            if (targets[n] >= V) {
                throw new IllegalArgumentException(op + ": targets[" + n + "] = " + targets[n] + " is outside the vocabulary [0, " + V
                        + ") of " + logits);
            }
        }
    }

    /** One target per row, none negative (the slice check is the caller's: targets may belong to another rank). */
    private static void requireTargets(String op, Tensor logits, int[] targets) {
        KernelSupport.requireLength(op, "targets", targets.length, logits.rows(), "one per row of " + logits);
        for (int n = 0; n < targets.length; n++) {
            if (targets[n] < 0) {
                throw new IllegalArgumentException(op + ": targets[" + n + "] = " + targets[n] + " is negative, expected a token id >= 0");
            }
        }
    }

}
