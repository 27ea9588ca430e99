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

    /** tokens (N) -> this rank's token rows of the embeddings (new). */
    public Tensor forward(int[] tokens, int C, String label) {
        Tensor partial = Tensor.empty(table.device(), fourfold.devices.MemoryTag.ACTIVATIONS, label, tokens.length, C);
        Embedding.forward(tokens, table.data(), vocabStart, partial);
        Tensor out = tp.exit(partial); // sum of the vocab shards' rows
        TensorParallel.free(partial, out);
        return out;
    }

    /** dLocal (this rank's token rows, C): scatter-adds into the rows of the table this rank owns. */
    public void backward(int[] tokens, Tensor dLocal) {
        Tensor d = tp.exitBackward(dLocal);
        Embedding.backward(tokens, d, vocabStart, table.grad());
        TensorParallel.free(d, dLocal);
    }
}
