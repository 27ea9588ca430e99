package fourfold.engine.kernels;

import fourfold.engine.tensor.Tensor;

/** One AdamW update exactly as torch.optim.AdamW (decoupled weight decay, bias correction). */
public final class AdamW {
    private AdamW() {}

    /** Updates param, m (exp_avg) and v (exp_avg_sq) in place for step t (1-based). All tensors have equal numel. */
    public static void step(Tensor param, Tensor grad, Tensor m, Tensor v, int t,
                            float lr, float beta1, float beta2, float eps, float weightDecay) {
        throw new UnsupportedOperationException("not implemented yet");
    }
}
