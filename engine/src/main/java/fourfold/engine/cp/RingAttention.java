package fourfold.engine.cp;

import fourfold.devices.MemoryTag;
import fourfold.devices.comm.ProcessGroup;
import fourfold.engine.kernels.Attention;
import fourfold.engine.kernels.AttentionMask;
import fourfold.engine.kernels.AttentionMerge;
import fourfold.engine.kernels.AttentionShape;
import fourfold.engine.kernels.Elementwise;
import fourfold.engine.tensor.Tensor;

/**
 * Ring attention: at step s rank r holds the K/V block of rank (r - s) mod cp. It sends the block
 * on to r+1 first (the send is eager, so the transfer overlaps the attention of the block in
 * hand on the simulated clock), attends its queries to it, merges the partial result by
 * log-sum-exp, then receives the next block from r-1.
 *
 * <p>A block that no query of a rank can see (documents, or the causal order under contiguous
 * sharding) is not computed there, and it is not sent on once no later rank on the ring needs it
 * (every rank knows the split, so sender and receiver agree). Backward runs the same route with
 * the merged out and lse: K/V travel ahead, the block's dK/dV accumulators follow it after each
 * rank has added its share, and the last rank that needed a block sends its dK/dV to the owner
 * (the ring's next hop when every rank needs every block, as under headtail).
 */
final class RingAttention extends ContextParallel {
    private static final int TAG_KV = 171, TAG_DKV = 172, TAG_HOME = 173;
    private final ProcessGroup group;

    RingAttention(ProcessGroup group) {
        this.group = group;
    }

    /** Who holds which block when: block k is at rank (k + s) mod cp at step s while some rank from there on needs it. */
    private record Route(SequenceSplit sp, int cp, boolean[][] sees) {
        static Route of(SequenceSplit sp) {
            int cp = sp.ranks();
            boolean[][] sees = new boolean[cp][cp];
            for (int q = 0; q < cp; q++) for (int k = 0; k < cp; k++) sees[q][k] = sp.sees(q, k);
            return new Route(sp, cp, sees);
        }

        int block(int rank, int step) {
            return Math.floorMod(rank - step, cp);
        }

        boolean holds(int k, int step) {
            if (step == 0) return true;
            for (int s = step; s < cp; s++) if (sees[(k + s) % cp][k]) return true;
            return false;
        }

        /** The last step at which block k is held (its owner's step 0 if nobody else needs it). */
        int lastStep(int k) {
            int last = 0;
            for (int s = 1; s < cp; s++) if (holds(k, s)) last = s;
            return last;
        }
    }

    private static Tensor keys(Tensor kv, int n, AttentionShape s) {
        return kv.rowsView(0, n).view(1, n, s.nkv(), s.hs());
    }

    private static Tensor values(Tensor kv, int n, AttentionShape s) {
        return kv.rowsView(n, n).view(1, n, s.nkv(), s.hs());
    }

    private static AttentionShape block(AttentionShape s, int nk) {
        return new AttentionShape(1, s.T(), nk, s.nh(), s.nkv(), s.hs());
    }

    @Override
    public Kept forward(Tensor q, Tensor k, Tensor v, Tensor y, Tensor lse, AttentionShape s, AttentionMask mask, ContextShard shard) {
        SequenceSplit sp = split(shard, group);
        Route route = Route.of(sp);
        int r = shard.rank(), cp = sp.ranks(), w = s.nkv() * s.hs(), next = (r + 1) % cp, prev = (r + cp - 1) % cp;
        var dev = q.device();
        Tensor held = pack(k, v, s.T(), w);
        boolean first = true;
        try (Tensor yb = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "cp.ring.y", s.B(), s.T(), s.nh(), s.hs());
             Tensor lb = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "cp.ring.lse", s.B(), s.nh(), s.T())) {
            for (int step = 0; step < cp; step++) {
                int kb = route.block(r, step), nk = sp.count(kb);
                if (held != null) { // else no rank from here on needs block kb: it never came
                    if (step + 1 < cp && route.holds(kb, step + 1)) group.send(held.segment(), next, TAG_KV);
                    if (route.sees()[r][kb]) {
                        Tensor kk = keys(held, nk, s), vv = values(held, nk, s);
                        if (first) Attention.forward(q, kk, vv, y, lse, block(s, nk), sp.mask(r, kb));
                        else {
                            Attention.forward(q, kk, vv, yb, lb, block(s, nk), sp.mask(r, kb));
                            AttentionMerge.merge(y, lse, yb, lb, s);
                        }
                        first = false;
                    }
                    held.close();
                    held = null;
                }
                int kn = route.block(r, step + 1);
                if (step + 1 < cp && route.holds(kn, step + 1)) {
                    held = Tensor.empty(dev, MemoryTag.COMM, "cp.ring.kv", 2 * sp.count(kn), w);
                    group.recv(held.segment(), prev, TAG_KV);
                }
            }
        } finally {
            if (held != null) held.close();
        }
        return Kept.NOTHING;
    }

    /** [K rows | V rows] of this rank's tokens, the block that travels. */
    private static Tensor pack(Tensor k, Tensor v, int n, int w) {
        Tensor kv = Tensor.empty(k.device(), MemoryTag.COMM, "cp.ring.kv", 2 * n, w);
        kv.rowsView(0, n).copyFrom(k.view(n, w));
        kv.rowsView(n, n).copyFrom(v.view(n, w));
        return kv;
    }

    @Override
    public void backward(Tensor dy, Tensor q, Tensor k, Tensor v, Tensor y, Tensor lse, Tensor dq, Tensor dk, Tensor dv,
                         AttentionShape s, AttentionMask mask, ContextShard shard, Kept kept) {
        SequenceSplit sp = split(shard, group);
        Route route = Route.of(sp);
        int r = shard.rank(), cp = sp.ranks(), n = s.T(), w = s.nkv() * s.hs(), next = (r + 1) % cp, prev = (r + cp - 1) % cp;
        var dev = q.device();
        Tensor held = pack(k, v, n, w);
        Tensor grads = Tensor.zeros(dev, MemoryTag.COMM, "cp.ring.dkv", 2 * n, w); // [dK | dV] of the block in hand
        try {
            for (int step = 0; step < cp; step++) {
                int kb = route.block(r, step), nk = sp.count(kb);
                if (held != null) {
                    boolean onward = step + 1 < cp && route.holds(kb, step + 1);
                    if (onward) group.send(held.segment(), next, TAG_KV);
                    if (route.sees()[r][kb]) {
                        Attention.backward(dy, q, keys(held, nk, s), values(held, nk, s), y, lse, dq,
                                keys(grads, nk, s), values(grads, nk, s), block(s, nk), sp.mask(r, kb));
                    }
                    if (onward) group.send(grads.segment(), next, TAG_DKV);
                    else if (kb != r) group.send(grads.segment(), kb, TAG_HOME); // the last holder sends the block's gradients home
                    else addInto(grads, dk, dv, n, w);                           // nobody else needed this rank's own block
                    held.close();
                    grads.close();
                    held = grads = null;
                }
                int kn = route.block(r, step + 1);
                if (step + 1 < cp && route.holds(kn, step + 1)) {
                    held = Tensor.empty(dev, MemoryTag.COMM, "cp.ring.kv", 2 * sp.count(kn), w);
                    grads = Tensor.empty(dev, MemoryTag.COMM, "cp.ring.dkv", 2 * sp.count(kn), w);
                    group.recv(held.segment(), prev, TAG_KV);
                    group.recv(grads.segment(), prev, TAG_DKV);
                }
            }
            int last = route.lastStep(r);
            if (last > 0) { // this rank's own block came back from its last holder
                try (Tensor home = Tensor.empty(dev, MemoryTag.COMM, "cp.ring.dkv.home", 2 * n, w)) {
                    group.recv(home.segment(), (r + last) % cp, TAG_HOME);
                    addInto(home, dk, dv, n, w);
                }
            }
        } finally {
            if (held != null) held.close();
            if (grads != null) grads.close();
        }
    }

    private static void addInto(Tensor dkv, Tensor dk, Tensor dv, int n, int w) {
        Elementwise.addInPlace(dk.view(n, w), dkv.rowsView(0, n));
        Elementwise.addInPlace(dv.view(n, w), dkv.rowsView(n, n));
    }
}
