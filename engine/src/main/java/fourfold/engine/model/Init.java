package fourfold.engine.model;

import java.util.SplittableRandom;

/**
 * Deterministic initial values, as Hugging Face initializes Llama: linear and embedding weights
 * from N(0, 0.02²), norm weights 1. Every parameter's full tensor is drawn from a generator
 * seeded by (seed, name), then each rank keeps its slice: any layout starts from exactly the
 * single-device weights.
 */
public final class Init {
    public static final double STD = 0.02;

    private Init() {}

    /** The full (unsharded) initial values of {@code p}. */
    public static float[] fullValues(Parameter p, long seed) {
        int[] shape = p.fullShape();
        long n = 1;
        for (int d : shape) n *= d;
        float[] v = new float[Math.toIntExact(n)];
        if (shape.length == 1) {
            java.util.Arrays.fill(v, 1f);
            return v;
        }
        SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ p.name().hashCode());
        for (int i = 0; i < v.length; i++) v[i] = (float) (rng.nextGaussian() * STD);
        return v;
    }

    /** Takes this rank's slice of a full row-major tensor. */
    public static float[] localSlice(Parameter p, float[] full) {
        int dim = p.shardDim();
        if (dim < 0) return full;
        int[] fs = p.fullShape();
        int[] ls = p.localShape();
        long outer = 1;
        for (int i = 0; i < dim; i++) outer *= fs[i];
        long inner = 1;
        for (int i = dim + 1; i < fs.length; i++) inner *= fs[i];
        float[] out = new float[Math.toIntExact(p.localNumel())];
        int len = ls[dim];
        for (long o = 0; o < outer; o++) {
            System.arraycopy(full, (int) ((o * fs[dim] + p.shardStart()) * inner), out, (int) (o * len * inner), (int) (len * inner));
        }
        return out;
    }

    /**
     * The inverse of {@link #localSlice}: the full tensor from the tp shards of {@code p} laid
     * end to end (shard 0 first), as an all-gather of the flattened shards returns them.
     */
    public static float[] fromShards(Parameter p, float[] shards, int parts) {
        int dim = p.shardDim();
        if (dim <= 0 || parts == 1) return shards; // dim 0 shards are contiguous row ranges
        int[] fs = p.fullShape();
        long outer = 1;
        for (int i = 0; i < dim; i++) outer *= fs[i];
        long inner = 1;
        for (int i = dim + 1; i < fs.length; i++) inner *= fs[i];
        int len = fs[dim] / parts;
        long shardSize = outer * len * inner;
        float[] full = new float[shards.length];
        for (int s = 0; s < parts; s++)
            for (long o = 0; o < outer; o++)
                System.arraycopy(shards, (int) (s * shardSize + o * len * inner), full, (int) ((o * fs[dim] + (long) s * len) * inner), (int) (len * inner));
        return full;
    }
}
