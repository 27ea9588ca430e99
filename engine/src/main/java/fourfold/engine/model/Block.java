package fourfold.engine.model;

import fourfold.devices.MemoryTag;
import fourfold.engine.kernels.Elementwise;
import fourfold.engine.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/** One decoder layer: h = x + attn(norm1(x)); out = h + mlp(norm2(h)). */
public final class Block {
    private final int index;
    private final RmsNormLayer norm1, norm2;
    private final AttentionLayer attn;
    private final Mlp mlp;

    public Block(int index, RmsNormLayer norm1, AttentionLayer attn, RmsNormLayer norm2, Mlp mlp) {
        this.index = index;
        this.norm1 = norm1;
        this.attn = attn;
        this.norm2 = norm2;
        this.mlp = mlp;
    }

    public int index() {
        return index;
    }

    /** In Hugging Face order: attention, mlp, norms. */
    public List<Parameter> parameters() {
        List<Parameter> ps = new ArrayList<>(attn.parameters());
        ps.addAll(mlp.parameters());
        ps.add(norm1.weight());
        ps.add(norm2.weight());
        return ps;
    }

    /** Everything backward needs; the block's input belongs to the caller. */
    public record Saved(RmsNormLayer.Saved n1, AttentionLayer.Saved a, Tensor h, RmsNormLayer.Saved n2, Mlp.Saved m)
            implements AutoCloseable {
        @Override
        public void close() {
            n1.close();
            a.close();
            h.close();
            n2.close();
            m.close();
        }
    }

    /** x (this rank's token rows, C) -> out (same rows, C), a new activation. */
    public Output<Saved> forward(Tensor x, MicroBatch mb) {
        String l = "layers." + index;
        RmsNormLayer.Saved n1 = norm1.forward(x, l + ".norm1");
        Output<AttentionLayer.Saved> a = attn.forward(n1.out(), mb, l + ".attn");
        Tensor h = a.out();
        Elementwise.addInPlace(h, x); // residual
        RmsNormLayer.Saved n2 = norm2.forward(h, l + ".norm2");
        Output<Mlp.Saved> m = mlp.forward(n2.out(), l + ".mlp");
        Tensor out = m.out();
        Elementwise.addInPlace(out, h); // residual
        return new Output<>(out, new Saved(n1, a.saved(), h, n2, m.saved()));
    }

    /** dout, x (this rank's token rows, C) -> dx (new). Frees the saved state. */
    public Tensor backward(Tensor dout, Tensor x, MicroBatch mb, Saved s) {
        var dev = x.device();
        try (s) {
            Tensor dh = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "dh", x.rows(), x.cols());
            try (Tensor dn2 = mlp.backward(dout, s.n2().out(), s.m())) {
                norm2.backward(dn2, s.h(), s.n2(), dh);
            }
            Elementwise.addInPlace(dh, dout); // the residual path
            Tensor dx = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "dx", x.rows(), x.cols());
            try (dh; Tensor dn1 = attn.backward(dh, s.n1().out(), mb, s.a())) {
                norm1.backward(dn1, x, s.n1(), dx);
                Elementwise.addInPlace(dx, dh);
            }
            return dx;
        }
    }
}
