package fourfold.engine.cp;

/** A cp rank's part of a micro-batch: the split of its tokens over the group, and which part is this rank's. */
public record ContextShard(SequenceSplit split, int rank) {}
