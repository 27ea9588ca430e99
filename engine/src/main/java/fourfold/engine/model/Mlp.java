package fourfold.engine.model;

import fourfold.devices.MemoryTag;
import fourfold.engine.kernels.SwiGlu;
import fourfold.engine.tensor.Tensor;
import fourfold.engine.tp.TensorParallel;

import java.util.List;

/** Llama's SwiGLU MLP: down(silu(gate(x)) * up(x)); gate/up column-parallel, down row-parallel. */
public final class Mlp {
    private final Linear gate, up, down;
    private final TensorParallel tp;

    public Mlp(Linear gate, Linear up, Linear down, TensorParallel tp) {
        this.gate = gate;
        this.up = up;
        this.down = down;
        this.tp = tp;
    }

    public List<Parameter> parameters() {
        return List.of(gate.weight(), up.weight(), down.weight());
    }

    public record Saved(Tensor g, Tensor u, Tensor act) implements AutoCloseable {
        @Override
        public void close() {
            g.close();
            u.close();
            act.close();
        }
    }

    /** xn (N, C) -> out (N, C) summed over the tp group. */
    public Saved forward(Tensor xn, Tensor out, String label) {
        Tensor g = gate.forward(xn, label + ".gate"); // (N, F)
        Tensor u = up.forward(xn, label + ".up");     // (N, F)
        Tensor act = Tensor.empty(xn.device(), MemoryTag.ACTIVATIONS, label + ".act", g.rows(), g.cols());
        SwiGlu.forward(g, u, act);
        down.forward(act, out);
        tp.gForward(out);
        return new Saved(g, u, act);
    }

    /** dout (N, C) -> dxn (N, C) overwritten. */
    public void backward(Tensor dout, Tensor xn, Saved s, Tensor dxn) {
        var dev = xn.device();
        int N = s.g().rows(), F = s.g().cols();
        try (Tensor dact = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "dact", N, F);
             Tensor dg = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "dgate", N, F);
             Tensor du = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "dup", N, F)) {
            down.backward(dout, s.act(), dact, false);
            SwiGlu.backward(dact, s.g(), s.u(), dg, du);
            gate.backward(dg, xn, dxn, false);
            up.backward(du, xn, dxn, true);
            tp.fBackward(dxn);
        }
    }
}
