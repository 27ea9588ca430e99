package fourfold.engine.model;

/**
 * Called around each unit of a model stage (unit 0 = embedding, 1..L = decoder layers, L+1 = the
 * head), in execution order. Data parallel uses them to gather sharded parameters just before a
 * unit runs (ZeRO-3), free them after, and start reducing a unit's gradients as soon as its
 * backward is done, overlapping communication with the rest of backward.
 */
public interface LayerHooks {
    LayerHooks NONE = new LayerHooks() {};

    default void beforeForward(int unit) {}

    default void afterForward(int unit) {}

    default void beforeBackward(int unit) {}

    /** The unit's backward is complete for this micro-batch (BW, or W of a split backward). */
    default void afterBackward(int unit) {}

    /** B of a split backward has run for the unit: its input gradient is done, its weight gradients are not. */
    default void afterInputBackward(int unit) {}
}
