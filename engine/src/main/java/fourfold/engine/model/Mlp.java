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

    /** xnLocal (this rank's token rows, C) -> this rank's rows of the output, summed over the tp group. */
    public Output<Saved> forward(Tensor xnLocal, String label) {
        Tensor xn = tp.enter(xnLocal);                // (N, C)
        Tensor g = gate.forward(xn, label + ".gate"); // (N, F / tp)
        Tensor u = up.forward(xn, label + ".up");     // (N, F / tp)
        TensorParallel.free(xn, xnLocal);
        Tensor act = Tensor.empty(xnLocal.device(), MemoryTag.ACTIVATIONS, label + ".act", g.rows(), g.cols());
        SwiGlu.forward(g, u, act);
        Tensor d = down.forward(act, label + ".down"); // (N, C), partial over tp
        Tensor out = tp.exit(d);
        TensorParallel.free(d, out);
        return new Output<>(out, new Saved(g, u, act));
    }

    /** doutLocal, xnLocal (this rank's rows, C) -> dxn for this rank's rows (new). */
    public Tensor backward(Tensor doutLocal, Tensor xnLocal, Saved s) {
        var dev = xnLocal.device();
        int N = s.g().rows(), F = s.g().cols();
        Tensor dxnFull = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "dxn", N, xnLocal.cols());
        try (Tensor dact = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "dact", N, F);
             Tensor dg = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "dgate", N, F);
             Tensor du = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "dup", N, F)) {
            Tensor dout = tp.exitBackward(doutLocal);
            down.backward(dout, s.act(), dact, false);
            TensorParallel.free(dout, doutLocal);
            SwiGlu.backward(dact, s.g(), s.u(), dg, du);
            Tensor xn = tp.enter(xnLocal);
            gate.backward(dg, xn, dxnFull, false);
            up.backward(du, xn, dxnFull, true);
            TensorParallel.free(xn, xnLocal);
        }
        Tensor dxn = tp.enterBackward(dxnFull);
        TensorParallel.free(dxnFull, dxn);
        return dxn;
    }
}
