package fourfold.engine.train;

/** Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_: scale by max / (norm + 1e-6) when below 1. */
public final class GradClip {
    private GradClip() {}

    /** The factor to multiply every gradient by (1 when no clipping is needed or max <= 0 disables it). */
    public static float factor(double norm, double maxNorm) {
        if (maxNorm <= 0) return 1f;
        double coef = maxNorm / (norm + 1e-6);
        return coef < 1 ? (float) coef : 1f;
    }
}
