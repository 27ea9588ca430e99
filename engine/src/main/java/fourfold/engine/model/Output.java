package fourfold.engine.model;

import fourfold.engine.tensor.Tensor;

/** A layer's forward result: its output activation and what its backward needs. */
public record Output<S>(Tensor out, S saved) {}
