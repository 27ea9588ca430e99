package fourfold.engine.model;

import fourfold.devices.MemoryTag;
import fourfold.engine.cp.ContextParallel;
import fourfold.engine.kernels.AttentionShape;
import fourfold.engine.kernels.Rope;
import fourfold.engine.tensor.Tensor;
import fourfold.engine.tp.TensorParallel;

import java.util.List;

/**
 * Causal self-attention with GQA and RoPE. Under tensor parallel each rank owns nh/tp query heads
 * and nkv/tp kv heads: q, k, v are column-parallel, o is row-parallel (Megatron's f ... g).
 * Under context parallel the rank's queries meet the keys of the whole sequence through the cp
 * handle (all-gather or ring), after RoPE at the tokens' own positions.
 */
public final class AttentionLayer {
    private final Linear wq, wk, wv, wo;
    private final int nh, nkv, hs; // heads on this rank
    private final Rope rope;
    private final TensorParallel tp;
    private final ContextParallel cp;

    public AttentionLayer(Linear wq, Linear wk, Linear wv, Linear wo, int nhLocal, int nkvLocal, int hs, Rope rope, TensorParallel tp,
                          ContextParallel cp) {
        this.wq = wq;
        this.wk = wk;
        this.wv = wv;
        this.wo = wo;
        this.nh = nhLocal;
        this.nkv = nkvLocal;
        this.hs = hs;
        this.rope = rope;
        this.tp = tp;
        this.cp = cp;
    }

    public List<Parameter> parameters() {
        return List.of(wq.weight(), wk.weight(), wv.weight(), wo.weight());
    }

    /** What backward needs: rotated q and k, v, the attention output before o, its log-sum-exp, and what cp kept. */
    public record Saved(Tensor q, Tensor k, Tensor v, Tensor y, Tensor lse, ContextParallel.Kept kept) implements AutoCloseable {
        @Override
        public void close() {
            kept.close();
            q.close();
            k.close();
            v.close();
            y.close();
            lse.close();
        }
    }

    /** (B*T, heads*hs) seen as (B, T, heads, hs). */
    private Tensor heads(Tensor t, MicroBatch mb, int heads) {
        return t.view(mb.B(), mb.T(), heads, hs);
    }

    private AttentionShape shape(MicroBatch mb) {
        return new AttentionShape(mb.B(), mb.T(), mb.T(), nh, nkv, hs);
    }

    /** xnLocal (this rank's token rows, C) -> this rank's rows of the output, summed over the tp group. */
    public Output<Saved> forward(Tensor xnLocal, MicroBatch mb, String label) {
        Tensor xn = tp.enter(xnLocal);           // (B*T, C)
        Tensor q = wq.forward(xn, label + ".q"); // (B, T, nh, hs)
        Tensor k = wk.forward(xn, label + ".k"); // (B, T, nkv, hs)
        Tensor v = wv.forward(xn, label + ".v"); // (B, T, nkv, hs)
        TensorParallel.free(xn, xnLocal);        // sequence parallel gathers it again in backward
        rope.forward(q, mb.B(), mb.T(), nh, mb.positions());
        rope.forward(k, mb.B(), mb.T(), nkv, mb.positions());
        Tensor y = Tensor.empty(xnLocal.device(), MemoryTag.ACTIVATIONS, label + ".y", mb.tokens(), nh * hs);
        Tensor lse = Tensor.empty(xnLocal.device(), MemoryTag.ACTIVATIONS, label + ".lse", mb.B(), nh, mb.T());
        ContextParallel.Kept kept = cp.forward(heads(q, mb, nh), heads(k, mb, nkv), heads(v, mb, nkv), heads(y, mb, nh), lse, shape(mb),
                mb.mask(), mb.shard());
        Tensor o = wo.forward(y, label + ".o");  // (B*T, C), partial over tp
        Tensor out = tp.exit(o);
        TensorParallel.free(o, out);
        return new Output<>(out, new Saved(q, k, v, y, lse, kept));
    }

    /** doutLocal, xnLocal (this rank's rows, C) -> dxn for this rank's rows (new); weight gradients accumulate. */
    public Tensor backward(Tensor doutLocal, Tensor xnLocal, MicroBatch mb, Saved s) {
        var dev = xnLocal.device();
        int N = mb.tokens();
        Tensor dxnFull = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "dxn", N, xnLocal.cols());
        try (Tensor dy = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "dy", N, nh * hs);
             Tensor dq = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "dq", N, nh * hs);
             Tensor dk = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "dk", N, nkv * hs);
             Tensor dv = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "dv", N, nkv * hs)) {
            Tensor dout = tp.exitBackward(doutLocal);
            wo.backward(dout, s.y(), dy, false);
            TensorParallel.free(dout, doutLocal);
            cp.backward(heads(dy, mb, nh), heads(s.q(), mb, nh), heads(s.k(), mb, nkv), heads(s.v(), mb, nkv), heads(s.y(), mb, nh),
                    s.lse(), heads(dq, mb, nh), heads(dk, mb, nkv), heads(dv, mb, nkv), shape(mb), mb.mask(), mb.shard(), s.kept());
            rope.backward(dq, mb.B(), mb.T(), nh, mb.positions());
            rope.backward(dk, mb.B(), mb.T(), nkv, mb.positions());
            Tensor xn = tp.enter(xnLocal);
            wq.backward(dq, xn, dxnFull, false);
            wk.backward(dk, xn, dxnFull, true);
            wv.backward(dv, xn, dxnFull, true);
            TensorParallel.free(xn, xnLocal);
        }
        Tensor dxn = tp.enterBackward(dxnFull);
        TensorParallel.free(dxnFull, dxn);
        return dxn;
    }
}
