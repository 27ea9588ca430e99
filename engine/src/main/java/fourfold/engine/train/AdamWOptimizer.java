package fourfold.engine.train;

import fourfold.devices.MemoryTag;
import fourfold.engine.kernels.AdamW;
import fourfold.engine.kernels.Elementwise;
import fourfold.engine.model.Parameter;
import fourfold.engine.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * torch.optim.AdamW over a list of slots. A slot is the part of a parameter this rank updates:
 * the whole local parameter, or (ZeRO) a shard of a flat buffer; its exp_avg and exp_avg_sq live
 * in device memory under the optimizer tag. Weight decay applies to 2-D weights only.
 */
public final class AdamWOptimizer implements AutoCloseable {
    /**
     * One updated range: values, gradient and moments of equal length; the range starts at element
     * {@code offset} of parameter {@code name} (0 when the slot is the whole parameter).
     */
    public record Slot(String name, long offset, Supplier<Tensor> param, Supplier<Tensor> grad, Tensor m, Tensor v, boolean decay) {}

    public record Hyper(double beta1, double beta2, double eps, double weightDecay) {}

    private final List<Slot> slots;
    private final Hyper hyper;
    private int step;

    public AdamWOptimizer(List<Slot> slots, Hyper hyper) {
        this.slots = List.copyOf(slots);
        this.hyper = hyper;
    }

    /** One slot per whole local parameter (no optimizer sharding). */
    public static AdamWOptimizer forParameters(List<Parameter> params, Hyper hyper) {
        List<Slot> slots = new ArrayList<>();
        for (Parameter p : params) {
            var dev = p.device();
            slots.add(new Slot(p.name(), 0, p::data, p::grad,
                    Tensor.zeros(dev, MemoryTag.OPTIMIZER, p.name() + ".exp_avg", p.localShape()),
                    Tensor.zeros(dev, MemoryTag.OPTIMIZER, p.name() + ".exp_avg_sq", p.localShape()),
                    p.weightDecay()));
        }
        return new AdamWOptimizer(slots, hyper);
    }

    public List<Slot> slots() {
        return slots;
    }

    public int stepCount() {
        return step;
    }

    public void setStepCount(int step) {
        this.step = step;
    }

    /** grads *= factor (gradient clipping). */
    public void scaleGrads(float factor) {
        for (Slot slot : slots) Elementwise.scale(slot.grad().get(), factor);
    }

    public void step(double lr) {
        step++;
        for (Slot s : slots) {
            AdamW.step(s.param().get(), s.grad().get(), s.m(), s.v(), step, (float) lr,
                    (float) hyper.beta1(), (float) hyper.beta2(), (float) hyper.eps(),
                    s.decay() ? (float) hyper.weightDecay() : 0f);
        }
    }

    @Override
    public void close() {
        for (Slot s : slots) {
            s.m().close();
            s.v().close();
        }
    }
}
