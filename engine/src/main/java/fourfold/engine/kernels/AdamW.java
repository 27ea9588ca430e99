package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.engine.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * One AdamW update exactly as torch.optim.AdamW (decoupled weight decay, bias correction).
 *
 * <p>The single-tensor path of torch 1.13 ({@code _single_tensor_adamw}), operation by operation:
 * <pre>
 *   param.mul_(1 - lr * weight_decay)
 *   exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)          # add_ with alpha is one fused multiply-add on CPU
 *   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)   # also one fused multiply-add
 *   step_size = lr / (1 - beta1 ** t);  bias_correction2_sqrt = sqrt(1 - beta2 ** t)   # Python doubles
 *   denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
 *   param.addcdiv_(exp_avg, denom, value=-step_size)
 * </pre>
 * Scalars are computed in double as Python does and rounded to float where torch hands them to a
 * float kernel. torch's CPU kernels fuse {@code a + alpha * b} (add_) and {@code a + (value * t1) * t2}
 * (addcmul_) into fused multiply-adds, and so does this kernel: with that, param, exp_avg and
 * exp_avg_sq agree BITWISE with torch 1.13 (AdamWTest, scripts/golden/adamw_reference.py). (torch 2.x replaced the exp_avg line by exp_avg.lerp_(grad, 1 - beta1): the same
 * value up to rounding.)
 */
public final class AdamW {
    private AdamW() {}

    private static final VectorSpecies<Float> S = KernelSupport.FLOATS;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** Elements per parallel block (a multiple of every vector length). */
    private static final int BLOCK = KernelSupport.MIN_ELEMENTS_PER_TASK;

    /** Updates param, m (exp_avg) and v (exp_avg_sq) in place for step t (1-based). All tensors have equal numel. */
    public static void step(Tensor param, Tensor grad, Tensor m, Tensor v, int t,
                            float lr, float beta1, float beta2, float eps, float weightDecay) {
        String op = "AdamW.step";
        Tensor.requireSameDevice(op, param, grad, m, v);
        KernelSupport.requireSameNumel(op, param, grad, m, v);
        if (t < 1) throw new IllegalArgumentException(op + ": step t is 1-based, got " + t);
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException(op + ": betas must lie in [0, 1), got (" + beta1 + ", " + beta2 + ")");
        }
        if (!(lr >= 0) || !(eps >= 0) || !(weightDecay >= 0)) {
            throw new IllegalArgumentException(op + ": lr, eps and weight decay must be >= 0, got lr=" + lr + ", eps=" + eps + ", weight_decay=" + weightDecay);
        }
        float decay = (float) (1.0 - (double) lr * weightDecay);
        float b1 = beta1, b2 = beta2;
        float oneMinusB1 = (float) (1.0 - beta1), oneMinusB2 = (float) (1.0 - beta2);
        double stepSize = lr / (1.0 - Math.pow(beta1, t));
        float negStepSize = (float) -stepSize;
        float bc2Sqrt = (float) Math.sqrt(1.0 - Math.pow(beta2, t));

        long n = param.numel();
        MemorySegment sp = param.segment(), sg = grad.segment(), sm = m.segment(), sv = v.segment();
        Device device = param.device();
        device.parallelFor((int) ((n + BLOCK - 1) / BLOCK), 1, (b0, b1End) -> {
            FloatVector b1m = FloatVector.broadcast(S, oneMinusB1);
            long end = Math.min(n, (long) b1End * BLOCK);
            long i = (long) b0 * BLOCK;
            for (; i + S.length() <= end; i += S.length()) {
                long off = i * Float.BYTES;
                FloatVector g = FloatVector.fromMemorySegment(S, sg, off, NATIVE);
                FloatVector p = FloatVector.fromMemorySegment(S, sp, off, NATIVE).mul(decay);
                FloatVector mv = g.fma(b1m, FloatVector.fromMemorySegment(S, sm, off, NATIVE).mul(b1));
                FloatVector vv = g.mul(oneMinusB2).fma(g, FloatVector.fromMemorySegment(S, sv, off, NATIVE).mul(b2));
                FloatVector denom = vv.lanewise(VectorOperators.SQRT).div(bc2Sqrt).add(eps);
                p.add(mv.mul(negStepSize).div(denom)).intoMemorySegment(sp, off, NATIVE);
                mv.intoMemorySegment(sm, off, NATIVE);
                vv.intoMemorySegment(sv, off, NATIVE);
            }
            if (i < end) {
                VectorMask<Float> k = S.indexInRange(i, end);
                long off = i * Float.BYTES;
                FloatVector g = FloatVector.fromMemorySegment(S, sg, off, NATIVE, k);
                FloatVector p = FloatVector.fromMemorySegment(S, sp, off, NATIVE, k).mul(decay);
                FloatVector mv = g.fma(b1m, FloatVector.fromMemorySegment(S, sm, off, NATIVE, k).mul(b1));
                FloatVector vv = g.mul(oneMinusB2).fma(g, FloatVector.fromMemorySegment(S, sv, off, NATIVE, k).mul(b2));
                FloatVector denom = vv.lanewise(VectorOperators.SQRT).div(bc2Sqrt).add(eps);
                p.add(mv.mul(negStepSize).div(denom)).intoMemorySegment(sp, off, NATIVE, k);
                mv.intoMemorySegment(sm, off, NATIVE, k);
                vv.intoMemorySegment(sv, off, NATIVE, k);
            }
        });
        device.recordCompute("adamw.step", 13.0 * n, 28.0 * n);
    }
}
