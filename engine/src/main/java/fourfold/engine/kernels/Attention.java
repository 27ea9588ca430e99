package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.engine.tensor.Tensor;

import java.util.concurrent.atomic.AtomicLong;

import static fourfold.engine.kernels.AttentionKernels.BK;
import static fourfold.engine.kernels.AttentionKernels.BQ;
import static fourfold.engine.kernels.AttentionKernels.L;
import static fourfold.engine.kernels.AttentionKernels.roundUp;

/**
 * Scaled dot-product attention, blocked with an online softmax (never a T x T matrix in memory),
 * with GQA, absolute-position causal masking and optional document masks.
 *
 * <p>FlashAttention-2 in structure: blocks of BQ queries meet blocks of BK keys with a running
 * max and sum per query, and key blocks that no query of a block can see are skipped (so causal
 * attention does about half the work). Backward recomputes each block of probabilities from q,
 * k and lse. Forward tasks are (b, head) ({@link AttentionForward}), backward tasks (b, kv head)
 * ({@link AttentionBackward}); every task owns the rows it writes, so the result does not depend
 * on the number of worker threads. The inner loops are in {@link AttentionKernels}.
 */
public final class Attention {
    private Attention() {}

    /**
     * q (B,T,nh,hs), k and v (B,Tk,nkv,hs) -> out (B,T,nh,hs); lse (B,nh,T) receives the
     * log-sum-exp of each query's scaled scores (for backward, and for merging partial results
     * in ring attention). A query that sees no key gets out = 0 and lse = -infinity.
     */
    public static void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, AttentionShape s, AttentionMask mask) {
        String op = "attention forward";
        Tensor.requireSameDevice(op, q, k, v, out, lse);
        s.requireQuery(op, q);
        s.requireKeyValue(op, k);
        s.requireKeyValue(op, v);
        s.requireQuery(op, out);
        s.requireLse(op, lse);
        mask.validate(op, s);

        Device device = q.device();
        AttentionBlocks blocks = new AttentionBlocks(s, mask);
        AttentionForward.Segments seg = new AttentionForward.Segments(q.segment(), k.segment(), v.segment(), out.segment(), lse.segment());
        AtomicLong visible = new AtomicLong(); // integer sum: exact in any order
        device.parallelFor(s.B() * s.nh(), 1, (start, end) -> {
            AttentionScratch sc = AttentionScratch.forThread(hsPadded(s), BQ, blocks.nkb * BK);
            long count = 0;
            for (int t = start; t < end; t++) count += AttentionForward.task(t, seg, s, mask, blocks, sc);
            visible.addAndGet(count);
        });
        long qkv = (long) s.B() * s.T() * s.nh() * s.hs() * 2 + (long) s.B() * s.Tk() * s.nkv() * s.hs() * 2;
        device.recordCompute("attention_fwd", 4.0 * s.hs() * visible.get(), 4.0 * (qkv + (long) s.B() * s.nh() * s.T()));
    }

    /** Gradients ACCUMULATED (+=) into dq (B,T,nh,hs), dk and dv (B,Tk,nkv,hs). */
    public static void backward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
                                Tensor dq, Tensor dk, Tensor dv, AttentionShape s, AttentionMask mask) {
        String op = "attention backward";
        Tensor.requireSameDevice(op, dout, q, k, v, out, lse, dq, dk, dv);
        s.requireQuery(op, dout);
        s.requireQuery(op, q);
        s.requireKeyValue(op, k);
        s.requireKeyValue(op, v);
        s.requireQuery(op, out);
        s.requireLse(op, lse);
        s.requireQuery(op, dq);
        s.requireKeyValue(op, dk);
        s.requireKeyValue(op, dv);
        mask.validate(op, s);

        Device device = q.device();
        AttentionBlocks blocks = new AttentionBlocks(s, mask);
        AttentionBackward.Segments seg = new AttentionBackward.Segments(dout.segment(), q.segment(), k.segment(), v.segment(),
                out.segment(), lse.segment(), dq.segment(), dk.segment(), dv.segment());
        AtomicLong visible = new AtomicLong();
        int rows = s.group() * blocks.nqb * BQ;
        device.parallelFor(s.B() * s.nkv(), 1, (start, end) -> {
            AttentionScratch sc = AttentionScratch.forThread(hsPadded(s), rows, blocks.nkb * BK);
            long count = 0;
            for (int t = start; t < end; t++) count += AttentionBackward.task(t, seg, s, mask, blocks, sc);
            visible.addAndGet(count);
        });
        long qo = (long) s.B() * s.T() * s.nh() * s.hs(), kv = (long) s.B() * s.Tk() * s.nkv() * s.hs();
        // reads dout, q, out, dq, k, v, dk, dv and lse; writes dq, dk, dv
        device.recordCompute("attention_bwd", 10.0 * s.hs() * visible.get(), 4.0 * (5 * qo + 6 * kv + (long) s.B() * s.nh() * s.T()));
    }

    /** Head size rounded up to whole vectors: the row length of the padded scratch blocks. */
    static int hsPadded(AttentionShape s) {
        return roundUp(s.hs(), L);
    }
}
