package fourfold.engine.model;

import fourfold.engine.kernels.Embedding;
import fourfold.engine.tensor.Tensor;
import fourfold.engine.tp.TensorParallel;

/**
 * Token embedding, vocab-parallel under tensor parallel: each rank holds rows
 * [vocabStart, vocabStart + V/tp), looks up the tokens it owns (zeros elsewhere) and the group
 * sums the partial rows (g), so every rank ends with the full embeddings.
 */
public final class EmbeddingLayer {
    private final Parameter table;
    private final int vocabStart;
    private final TensorParallel tp;

    public EmbeddingLayer(Parameter table, TensorParallel tp) {
        this.table = table;
        this.vocabStart = Math.max(0, table.shardStart());
        this.tp = tp;
    }

    public Parameter table() {
        return table;
    }

    /** tokens (N) -> out (N, C). */
    public void forward(int[] tokens, Tensor out) {
        Embedding.forward(tokens, table.data(), vocabStart, out);
        tp.gForward(out);
    }

    /** dout (N, C): scatter-adds into the rows this rank owns. */
    public void backward(int[] tokens, Tensor dout) {
        Embedding.backward(tokens, dout, vocabStart, table.grad());
    }
}
