package fourfold.engine.cp;

import fourfold.devices.MemoryTag;
import fourfold.devices.comm.ProcessGroup;
import fourfold.engine.kernels.Attention;
import fourfold.engine.kernels.AttentionMask;
import fourfold.engine.kernels.AttentionShape;
import fourfold.engine.kernels.Elementwise;
import fourfold.engine.kernels.Rows;
import fourfold.engine.tensor.Tensor;

/**
 * Llama 3's context parallel attention: after RoPE every rank all-gathers K and V of the whole
 * sequence (one all-gather of [K | V] rows, each rank's part padded to the largest rank's token
 * count so uneven shards travel too), puts the rows into sequence order and attends with its
 * local queries at their global positions. The gathered K/V are kept for backward, which
 * computes dK, dV for the whole sequence and reduce-scatters them back to their owners.
 *
 * <p>Bytes sent per rank and layer: forward (cp-1)·2·m·w floats, backward the same (ring
 * all-gather and reduce-scatter each send cp-1 chunks), m the largest token count, w = nkv·hs.
 */
final class AllGatherAttention extends ContextParallel {
    private final ProcessGroup group;

    AllGatherAttention(ProcessGroup group) {
        this.group = group;
    }

    /** Row of the gathered buffer (cp·2m rows: per rank m K rows then m V rows) holding each token's K row. */
    private static int[] keyRows(SequenceSplit sp) {
        int m = sp.maxCount();
        int[] from = new int[sp.tokens()];
        for (int r = 0; r < sp.ranks(); r++) {
            int[] ix = sp.index()[r];
            for (int i = 0; i < ix.length; i++) from[ix[i]] = r * 2 * m + i;
        }
        return from;
    }

    private static int[] plus(int[] a, int d) {
        int[] b = new int[a.length];
        for (int i = 0; i < a.length; i++) b[i] = a[i] + d;
        return b;
    }

    @Override
    public Kept forward(Tensor q, Tensor k, Tensor v, Tensor y, Tensor lse, AttentionShape s, AttentionMask mask, ContextShard shard) {
        SequenceSplit sp = split(shard, group);
        int n = s.T(), m = sp.maxCount(), N = sp.tokens(), w = s.nkv() * s.hs(), cp = sp.ranks();
        var dev = q.device();
        Tensor kFull = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "cp.k.gathered", 1, N, s.nkv(), s.hs());
        Tensor vFull = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "cp.v.gathered", 1, N, s.nkv(), s.hs());
        try (Tensor mine = Tensor.zeros(dev, MemoryTag.COMM, "cp.kv.send", 2 * m, w);
             Tensor all = Tensor.empty(dev, MemoryTag.COMM, "cp.kv.all", cp * 2 * m, w)) {
            mine.rowsView(0, n).copyFrom(k.view(n, w));
            mine.rowsView(m, n).copyFrom(v.view(n, w));
            group.allGather(mine.segment(), all.segment());
            int[] kRows = keyRows(sp);
            Rows.gather(all, kRows, kFull.view(N, w));
            Rows.gather(all, plus(kRows, m), vFull.view(N, w));
        }
        Attention.forward(q, kFull, vFull, y, lse, gathered(s, N), sp.gatheredMask(shard.rank()));
        return new Kept(kFull, vFull);
    }

    private static AttentionShape gathered(AttentionShape s, int N) {
        return new AttentionShape(1, s.T(), N, s.nh(), s.nkv(), s.hs());
    }

    @Override
    public void backward(Tensor dy, Tensor q, Tensor k, Tensor v, Tensor y, Tensor lse, Tensor dq, Tensor dk, Tensor dv,
                         AttentionShape s, AttentionMask mask, ContextShard shard, Kept kept) {
        SequenceSplit sp = split(shard, group);
        int n = s.T(), m = sp.maxCount(), N = sp.tokens(), w = s.nkv() * s.hs(), cp = sp.ranks();
        var dev = q.device();
        try (Tensor dkFull = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "cp.dk.full", 1, N, s.nkv(), s.hs());
             Tensor dvFull = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "cp.dv.full", 1, N, s.nkv(), s.hs())) {
            Attention.backward(dy, q, kept.k(), kept.v(), y, lse, dq, dkFull, dvFull, gathered(s, N), sp.gatheredMask(shard.rank()));
            try (Tensor all = Tensor.zeros(dev, MemoryTag.COMM, "cp.dkv.all", cp * 2 * m, w);
                 Tensor mine = Tensor.empty(dev, MemoryTag.COMM, "cp.dkv.mine", 2 * m, w)) {
                int[] kRows = keyRows(sp);
                Rows.scatter(dkFull.view(N, w), kRows, all);
                Rows.scatter(dvFull.view(N, w), plus(kRows, m), all);
                group.reduceScatter(all.segment(), mine.segment());
                Elementwise.addInPlace(dk.view(n, w), mine.rowsView(0, n));
                Elementwise.addInPlace(dv.view(n, w), mine.rowsView(m, n));
            }
        }
    }
}
