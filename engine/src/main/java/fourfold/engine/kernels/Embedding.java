package fourfold.engine.kernels;

import fourfold.engine.tensor.Tensor;

/**
 * Token embedding lookup and its scatter-add backward. {@code vocabStart} lets a vocab-parallel
 * shard hold rows [vocabStart, vocabStart + table.rows()): tokens outside give zero rows.
 */
public final class Embedding {
    private Embedding() {}

    /** tokens (N) -> out (N,C) = table[token - vocabStart], or 0 for tokens outside the shard. */
    public static void forward(int[] tokens, Tensor table, int vocabStart, Tensor out) {
        throw new UnsupportedOperationException("not implemented yet");
    }

    /** dtable[token - vocabStart] += dout[n] for tokens inside the shard; deterministic order. */
    public static void backward(int[] tokens, Tensor dout, int vocabStart, Tensor dtable) {
        throw new UnsupportedOperationException("not implemented yet");
    }
}
