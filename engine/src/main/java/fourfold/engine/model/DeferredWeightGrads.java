package fourfold.engine.model;

import fourfold.devices.MemoryTag;
import fourfold.engine.kernels.Gemm;
import fourfold.engine.tensor.Tensor;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The weight-gradient GEMMs of one stage's split backward. While B runs, every {@link Linear}
 * of the stage leaves here what its weight gradient needs (its input x and dy, copied into the
 * arena as activations, tagged "W.x" / "W.dy") instead of computing dW; W runs them later, unit by
 * unit. With nothing collecting, Linear computes dW at once (the fused backward, BW).
 */
public final class DeferredWeightGrads {
    /** One Linear's pending dW += dyᵀ · x. */
    private record Pending(Parameter weight, Tensor dy, Tensor x) {}

    /** The deferred work of one micro-batch's B, per unit in backward order. */
    public static final class Work implements AutoCloseable {
        private final List<Integer> units = new ArrayList<>();
        private final List<List<Pending>> pending = new ArrayList<>();
        private final Map<Tensor, Tensor> copies = new IdentityHashMap<>(); // q, k and v share one input: one copy

        private void beginUnit(int unit) {
            units.add(unit);
            pending.add(new ArrayList<>());
            copies.clear();
        }

        List<Integer> units() {
            return units;
        }

        /** Runs unit i's GEMMs into the weights' gradients and frees what they kept. */
        void run(int i) {
            for (Pending p : pending.get(i)) Gemm.tn(p.dy(), p.x(), p.weight().grad(), true);
            release(i);
        }

        private void release(int i) {
            List<Tensor> seen = new ArrayList<>();
            for (Pending p : pending.get(i)) {
                p.dy().close();
                if (seen.stream().noneMatch(t -> t == p.x())) {
                    seen.add(p.x());
                    p.x().close();
                }
            }
            pending.get(i).clear();
        }

        @Override
        public void close() {
            for (int i = 0; i < pending.size(); i++) release(i);
        }
    }

    private Work collecting;

    /** From now until {@link #stop}, Linear layers defer into {@code work}. */
    void start(Work work) {
        collecting = work;
    }

    void beginUnit(int unit) {
        if (collecting != null) collecting.beginUnit(unit);
    }

    void stop() {
        collecting = null;
    }

    boolean active() {
        return collecting != null;
    }

    /** Keeps copies of dy (N, out) and x (N, in) for weight's gradient. */
    void defer(Parameter weight, Tensor dy, Tensor x) {
        Tensor xCopy = collecting.copies.computeIfAbsent(x, t -> copy(t, "W.x " + weight.name()));
        collecting.pending.getLast().add(new Pending(weight, copy(dy, "W.dy " + weight.name()), xCopy));
    }

    private static Tensor copy(Tensor t, String name) {
        Tensor c = Tensor.empty(t.device(), MemoryTag.ACTIVATIONS, name, t.rows(), t.cols());
        c.copyFrom(t);
        return c;
    }
}
