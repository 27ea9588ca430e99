package fourfold.engine.train;

/**
 * Learning rate per step (0-based): linear warmup to the peak over {@code warmup} steps, then
 * cosine decay to {@code minLr} at the last step, as nanoGPT does; or constant.
 */
public record LrSchedule(Kind kind, double peak, double minLr, int warmup, int steps) {
    public enum Kind { COSINE, CONSTANT }

    public double at(int step) {
        if (kind == Kind.CONSTANT) return peak;
        if (step < warmup) return peak * (step + 1) / warmup;
        if (steps <= warmup) return peak;
        double progress = Math.min(1.0, (double) (step - warmup) / Math.max(1, steps - 1 - warmup));
        return minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (peak - minLr);
    }
}
