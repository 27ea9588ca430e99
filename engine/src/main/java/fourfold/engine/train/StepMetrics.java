package fourfold.engine.train;

/**
 * What one training step reports. valLoss is NaN on steps without evaluation; simTime is the
 * simulated step time of the slowest device; peakBytes the largest per-device peak of the step;
 * ppBubble the pipeline bubble of the step (see PipelineBubble), NaN without pipeline parallel.
 */
public record StepMetrics(int step, double loss, double lr, double gradNorm, double tokensPerSecond,
                          double stepSeconds, double valLoss, double simSeconds, long peakBytes, double ppBubble) {}
