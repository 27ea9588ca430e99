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

    /** x (B*T, C) -> out (B*T, C) (written into the caller's buffer). */
    public Saved forward(Tensor x, MicroBatch mb, Tensor out) {
        String l = "layers." + index;
        var dev = x.device();
        RmsNormLayer.Saved n1 = norm1.forward(x, l + ".norm1");
        Tensor h = Tensor.empty(dev, MemoryTag.ACTIVATIONS, l + ".h", x.rows(), x.cols());
        AttentionLayer.Saved a = attn.forward(n1.out(), mb, h, l + ".attn");
        Elementwise.addInPlace(h, x);
        RmsNormLayer.Saved n2 = norm2.forward(h, l + ".norm2");
        Mlp.Saved m = mlp.forward(n2.out(), out, l + ".mlp");
        Elementwise.addInPlace(out, h);
        return new Saved(n1, a, h, n2, m);
    }

    /** dout (B*T, C), x the block's input -> dx (B*T, C) overwritten. Frees the saved state. */
    public void backward(Tensor dout, Tensor x, MicroBatch mb, Saved s, Tensor dx) {
        var dev = x.device();
        try (s;
             Tensor dn = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "dnorm", x.rows(), x.cols());
             Tensor dh = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "dh", x.rows(), x.cols())) {
            mlp.backward(dout, s.n2().out(), s.m(), dn);
            norm2.backward(dn, s.h(), s.n2(), dh);
            Elementwise.addInPlace(dh, dout); // the residual path
            attn.backward(dh, s.n1().out(), mb, s.a(), dn);
            norm1.backward(dn, x, s.n1(), dx);
            Elementwise.addInPlace(dx, dh);
        }
    }
}
