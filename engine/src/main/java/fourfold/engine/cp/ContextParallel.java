package fourfold.engine.cp;

import fourfold.devices.comm.ProcessGroup;
import fourfold.engine.kernels.Attention;
import fourfold.engine.kernels.AttentionMask;
import fourfold.engine.kernels.AttentionShape;
import fourfold.engine.tensor.Tensor;

/**
 * The context-parallel group an attention layer is handed, as it is handed tp/'s group: the layer
 * calls {@link #forward} and {@link #backward} after RoPE and never branches on the layout. With
 * one rank both are plain attention over the micro-batch's own keys; with more, the rank's queries
 * see the keys of the whole sequence (all-gathered, or passed around the ring).
 *
 * <p>Shapes: q, y (B, T, nh, hs), k, v (B, T, nkv, hs) and lse (B, nh, T) are this rank's tokens;
 * under cp the micro-batch is one flat row of them (B = 1), and {@code shard} says where every
 * token of the sequence lives.
 */
public abstract class ContextParallel {
    private static final ContextParallel NONE = new ContextParallel() {
        @Override
        public Kept forward(Tensor q, Tensor k, Tensor v, Tensor y, Tensor lse, AttentionShape s, AttentionMask mask, ContextShard shard) {
            Attention.forward(q, k, v, y, lse, s, mask);
            return Kept.NOTHING;
        }

        @Override
        public void backward(Tensor dy, Tensor q, Tensor k, Tensor v, Tensor y, Tensor lse, Tensor dq, Tensor dk, Tensor dv,
                             AttentionShape s, AttentionMask mask, ContextShard shard, Kept kept) {
            Attention.backward(dy, q, k, v, y, lse, dq, dk, dv, s, mask);
        }
    };

    /** What an algorithm keeps from forward for backward besides q, k, v, y and lse (the gathered K/V, or nothing). */
    public record Kept(Tensor k, Tensor v) implements AutoCloseable {
        static final Kept NOTHING = new Kept(null, null);

        @Override
        public void close() {
            if (k != null) k.close();
            if (v != null) v.close();
        }
    }

    public static ContextParallel none() {
        return NONE;
    }

    public static ContextParallel of(ProcessGroup group, Algorithm algorithm) {
        if (group.size() == 1) return NONE;
        return algorithm == Algorithm.RING ? new RingAttention(group) : new AllGatherAttention(group);
    }

    /** y and lse receive the attention of the local queries over every key they may see. */
    public abstract Kept forward(Tensor q, Tensor k, Tensor v, Tensor y, Tensor lse, AttentionShape s, AttentionMask mask, ContextShard shard);

    /** dq, dk, dv (this rank's tokens) ACCUMULATE (+=) the gradients; frees nothing (the caller closes {@code kept}). */
    public abstract void backward(Tensor dy, Tensor q, Tensor k, Tensor v, Tensor y, Tensor lse, Tensor dq, Tensor dk, Tensor dv,
                                  AttentionShape s, AttentionMask mask, ContextShard shard, Kept kept);

    /** The shard of a micro-batch under cp > 1; refuses one built for another group size. */
    static SequenceSplit split(ContextShard shard, ProcessGroup group) {
        if (shard == null || shard.split().ranks() != group.size() || shard.rank() != group.rank()) {
            throw new IllegalStateException("context parallel over " + group.size() + " ranks needs a micro-batch sharded for them (rank "
                    + group.rank() + "), got " + (shard == null ? "none" : shard.split().ranks() + " ranks, rank " + shard.rank()));
        }
        return shard.split();
    }
}
