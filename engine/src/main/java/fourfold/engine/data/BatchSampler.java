package fourfold.engine.data;

import java.util.SplittableRandom;

/**
 * Training batches as a pure function of (data, B, T, seed, step): no state to save, so a run
 * resumed at step s draws exactly the batches of an uninterrupted run, and every parallel layout
 * sees the same global batch (each rank then takes its rows with {@link Batch#rows}).
 *
 * <p>Row b of a batch is a window of T+1 consecutive bytes starting at byte {@code start}; its
 * inputs are bytes [start, start+T) and its targets bytes [start+1, start+T+1).
 * <ul>
 *   <li>{@link Sampling#SEQUENTIAL}: window index w = (s*B + b) mod W where W = floor((n-1)/T) is
 *   the number of non-overlapping windows of the n-byte split; start = w*T.</li>
 *   <li>{@link Sampling#RANDOM}: start is uniform in [0, n-T-1] (as nanoGPT's get_batch), drawn in
 *   row order from a generator seeded by a hash of (seed, step).</li>
 * </ul>
 */
public final class BatchSampler {
    private final Sampling sampling;
    private final TokenSpan data;
    private final int B;
    private final int T;
    private final long seed;
    private final int windows;

    private BatchSampler(Sampling sampling, TokenSpan data, int B, int T, long seed) {
        if (B <= 0 || T <= 0) {
            throw new IllegalArgumentException("BatchSampler: batch size and sequence length must be positive, got B=" + B + ", T=" + T);
        }
        data.requireWindow(T);
        this.sampling = sampling;
        this.data = data;
        this.B = B;
        this.T = T;
        this.seed = seed;
        this.windows = data.windowCount(T);
    }

    public static BatchSampler of(Sampling sampling, TokenSpan train, int B, int T, long seed) {
        return new BatchSampler(sampling, train, B, T, seed);
    }

    public static BatchSampler random(TokenSpan train, int B, int T, long seed) {
        return new BatchSampler(Sampling.RANDOM, train, B, T, seed);
    }

    public static BatchSampler sequential(TokenSpan train, int B, int T) {
        return new BatchSampler(Sampling.SEQUENTIAL, train, B, T, 0);
    }

    public Sampling sampling() {
        return sampling;
    }

    public int batchSize() {
        return B;
    }

    public int seqLen() {
        return T;
    }

    /** The global batch of training step {@code step} (0-based). */
    public Batch batch(long step) {
        if (step < 0) throw new IllegalArgumentException("BatchSampler: step must be >= 0, got " + step);
        int[] inputs = new int[B * T];
        int[] targets = new int[B * T];
        int[] starts = windowStarts(step);
        for (int b = 0; b < B; b++) {
            data.copyTokens(starts[b], T, inputs, b * T);
            data.copyTokens(starts[b] + 1, T, targets, b * T);
        }
        return new Batch(inputs, targets, B, T);
    }

    /** Byte offsets (in the split) of the B windows of {@code step}. */
    public int[] windowStarts(long step) {
        int[] starts = new int[B];
        if (sampling == Sampling.SEQUENTIAL) {
            for (int b = 0; b < B; b++) {
                // (s*B + b) mod W without overflow for any step a run can reach.
                long w = Math.floorMod(Math.floorMod(step, (long) windows) * B + b, (long) windows);
                starts[b] = (int) (w * T);
            }
        } else {
            SplittableRandom rng = new SplittableRandom(stepSeed(seed, step));
            int choices = data.length() - T; // starts 0 .. n-T-1
            for (int b = 0; b < B; b++) starts[b] = rng.nextInt(choices);
        }
        return starts;
    }

    /** A well-mixed 64-bit seed for one step, so neighbouring steps and seeds are unrelated. */
    static long stepSeed(long seed, long step) {
        return mix64(mix64(seed ^ 0x5DEECE66DL) + step * 0x9E3779B97F4A7C15L);
    }

    // SplitMix64's finalizer (Steele, Lea, Flood 2014).
    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
