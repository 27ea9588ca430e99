package fourfold.engine.model;

/** TEMPORARY minimal config; the io branch brings the full one (presets, validation, HF JSON). */
public record LlamaConfig(int vocabSize, int dim, int nLayers, int nHeads, int nKvHeads, int ffnDim, int maxSeq,
                          double ropeTheta, double normEps) {
    public int headSize() {
        return dim / nHeads;
    }
}
