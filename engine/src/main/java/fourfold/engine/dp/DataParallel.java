package fourfold.engine.dp;

import fourfold.devices.MemoryTag;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.ReduceOp;
import fourfold.engine.model.LayerHooks;
import fourfold.engine.model.Llama;
import fourfold.engine.model.Parameter;
import fourfold.engine.tensor.Tensor;
import fourfold.engine.train.AdamWOptimizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Data parallel for one rank: gradients reduced over the dp group in buckets, each started
 * asynchronously as soon as backward has finished every unit in it (so reduction overlaps the
 * rest of backward) and awaited before the optimizer step. With ZeRO the optimizer state
 * (stage 1), the gradients (stage 2) and the parameters (stage 3, FSDP) are sharded: each rank
 * owns one chunk of every bucket.
 *
 * <p>Gradients are of (loss sum / global tokens) on every rank, so their SUM over the group is
 * the single-device gradient.
 */
public final class DataParallel implements LayerHooks {
    private final Llama model;
    private final ProcessGroup group;
    private final int zero;
    private final boolean reshardAfterForward;
    private final List<Bucket> buckets = new ArrayList<>();
    private final Map<Integer, Bucket> bucketOfUnit = new HashMap<>();
    private boolean holding;
    private Bucket inFlight;

    /**
     * Lays the model's parameters out in buckets of about {@code bucketBytes} (whole units, in
     * backward order; ZeRO-3 uses one bucket per unit, as FSDP wraps each layer). The model's
     * parameters must be initialized; their values move into the buckets.
     */
    public DataParallel(Llama model, ProcessGroup group, int zero, long bucketBytes, boolean reshardAfterForward) {
        this.model = model;
        this.group = group;
        this.zero = zero;
        this.reshardAfterForward = reshardAfterForward;
        List<List<Parameter>> units = model.units();
        List<Parameter> ps = new ArrayList<>();
        List<Integer> ids = new ArrayList<>();
        long bytes = 0;
        for (int u = units.size() - 1; u >= 0; u--) {
            long unitBytes = 0;
            for (Parameter p : units.get(u)) unitBytes += p.localNumel() * Float.BYTES;
            if (!ps.isEmpty() && (zero == 3 || bytes + unitBytes > bucketBytes)) {
                addBucket(ps, ids);
                ps = new ArrayList<>();
                ids = new ArrayList<>();
                bytes = 0;
            }
            // Within a unit, backward produces gradients last-to-first; the order in the buffer is free, keep forward order.
            ps.addAll(units.get(u));
            ids.add(model.unitId(u));
            bytes += unitBytes;
        }
        if (!ps.isEmpty()) addBucket(ps, ids);
        model.setHooks(this);
    }

    private void addBucket(List<Parameter> ps, List<Integer> ids) {
        long count = 0;
        for (Parameter p : ps) count += p.localNumel();
        ProcessGroup.Chunk chunk = ProcessGroup.chunk(count, group.size(), group.rank());
        Bucket b = new Bucket(buckets.size(), ps, ids, chunk.start(), chunk.length());
        var dev = model.device();
        Tensor flat = Tensor.empty(dev, MemoryTag.PARAMS, "bucket" + b.id + ".params", Math.toIntExact(b.count));
        for (int i = 0; i < ps.size(); i++) Bucket.range(flat, b.offsets[i], ps.get(i).localNumel()).copyFrom(ps.get(i).data());
        if (zero == 3) {
            b.paramShard = shardTensor(b, MemoryTag.PARAMS, "params");
            if (b.shardLength > 0) b.paramShard.copyFrom(Bucket.range(flat, b.shardStart, b.shardLength));
            for (Parameter p : ps) p.releaseData();
            flat.close();
        } else {
            b.flatParams = flat;
            b.installParams(flat);
        }
        if (zero >= 2) {
            b.gradShard = shardTensor(b, MemoryTag.GRADS, "grads");
        } else {
            b.flatGrads = Tensor.zeros(dev, MemoryTag.GRADS, "bucket" + b.id + ".grads", Math.toIntExact(b.count));
            b.installGrads(b.flatGrads);
        }
        buckets.add(b);
        for (int id : ids) bucketOfUnit.put(id, b);
    }

    /** A chunk-sized tensor; a rank whose chunk is empty still gets one element so views stay valid. */
    private Tensor shardTensor(Bucket b, MemoryTag tag, String what) {
        return Tensor.zeros(model.device(), tag, "bucket" + b.id + "." + what + ".shard", Math.toIntExact(Math.max(1, b.shardLength)));
    }

    public int zeroStage() {
        return zero;
    }

    public ProcessGroup group() {
        return group;
    }

    /**
     * Call before a step of {@code microBatches} micro-batches: a bucket's reduction starts when
     * the last backward (BW, or W of a split backward) of its units has run for every micro-batch,
     * whatever order a pipeline schedule runs them in.
     */
    public void beginStep(int microBatches) {
        for (Bucket b : buckets) b.backwardsLeft = b.units.size() * microBatches;
    }

    @Override
    public void beforeForward(int unit) {
        if (zero == 3) gather(bucketOfUnit.get(unit));
    }

    @Override
    public void afterForward(int unit) {
        if (zero == 3 && reshardAfterForward) release(bucketOfUnit.get(unit));
    }

    @Override
    public void beforeBackward(int unit) {
        Bucket b = bucketOfUnit.get(unit);
        if (zero == 3) gather(b);
        if (zero >= 2 && b.flatGrads == null) {
            b.flatGrads = Tensor.zeros(model.device(), MemoryTag.GRADS, "bucket" + b.id + ".grads", Math.toIntExact(b.count));
            b.installGrads(b.flatGrads);
        }
    }

    @Override
    public void afterInputBackward(int unit) {
        if (zero == 3) release(bucketOfUnit.get(unit)); // W needs the gradients, not the parameters
    }

    @Override
    public void afterBackward(int unit) {
        Bucket b = bucketOfUnit.get(unit);
        if (zero == 3) release(b); // ZeRO-3 buckets hold one unit
        if (--b.backwardsLeft > 0) return;
        // Before starting this bucket, finish the one in flight: with ZeRO-2/3 that frees its full
        // gradients, so at most two buckets of full gradients exist at a time.
        if (inFlight != null) finish(inFlight);
        if (zero == 0) {
            b.pending = group.allReduceAsync(b.flatGrads.segment(), ReduceOp.SUM);
        } else {
            // ZeRO-1/2/3: a rank needs the reduced gradient of its own chunk only.
            b.reduceOut = Tensor.empty(model.device(), MemoryTag.COMM, "bucket" + b.id + ".reduced", Math.toIntExact(Math.max(1, b.shardLength)));
            b.pending = group.reduceScatterAsync(b.flatGrads.segment(), shardSegment(b.reduceOut, b));
        }
        inFlight = b;
    }

    /** Waits for a bucket's reduction and puts the result where the optimizer reads it. */
    private void finish(Bucket b) {
        if (b.pending == null) return;
        b.pending.await();
        b.pending = null;
        if (b.reduceOut != null) {
            Tensor reduced = b.reduceOut.rowsView(0, (int) Math.max(1, b.shardLength));
            if (b.shardLength > 0) {
                if (zero == 1) Bucket.range(b.flatGrads, b.shardStart, b.shardLength).copyFrom(Bucket.range(reduced, 0, b.shardLength));
                else Bucket.range(b.gradShard, 0, b.shardLength).copyFrom(Bucket.range(reduced, 0, b.shardLength));
            }
            b.reduceOut.close();
            b.reduceOut = null;
        }
        if (zero >= 2 && b.flatGrads != null) {
            for (Parameter p : b.params) p.releaseGrad();
            b.flatGrads.close();
            b.flatGrads = null;
        }
        if (inFlight == b) inFlight = null;
    }

    private static java.lang.foreign.MemorySegment shardSegment(Tensor shard, Bucket b) {
        return shard.segment().asSlice(0, b.shardLength * Float.BYTES);
    }

    private void gather(Bucket b) {
        if (b.flatParams != null) return;
        b.flatParams = Tensor.empty(model.device(), MemoryTag.PARAMS, "bucket" + b.id + ".gathered", Math.toIntExact(b.count));
        group.allGather(shardSegment(b.paramShard, b), b.flatParams.segment());
        b.installParams(b.flatParams);
    }

    private void release(Bucket b) {
        if (b.flatParams == null || holding) return;
        for (Parameter p : b.params) p.releaseData();
        b.flatParams.close();
        b.flatParams = null;
    }

    /** Waits for every reduction; ZeRO-2/3 keep only their chunk of the gradients. */
    public void finishGradients() {
        for (Bucket b : buckets) finish(b);
    }

    /** Zeroes the gradients that accumulate over a step's micro-batches. */
    public void zeroGrads() {
        for (Bucket b : buckets) if (b.flatGrads != null) b.flatGrads.zero();
    }

    /**
     * Optimizer slots: every parameter whole (ZeRO-0), or the parts of parameters that fall in
     * this rank's chunk of each bucket (ZeRO-1/2/3).
     */
    public List<AdamWOptimizer.Slot> optimizerSlots() {
        var dev = model.device();
        List<AdamWOptimizer.Slot> slots = new ArrayList<>();
        for (Bucket b : buckets) {
            for (int i = 0; i < b.params.size(); i++) {
                Parameter p = b.params.get(i);
                long from = b.offsets[i], to = from + p.localNumel();
                if (zero == 0) {
                    slots.add(new AdamWOptimizer.Slot(p.name(), 0, p::data, p::grad,
                            Tensor.zeros(dev, MemoryTag.OPTIMIZER, p.name() + ".exp_avg", p.localShape()),
                            Tensor.zeros(dev, MemoryTag.OPTIMIZER, p.name() + ".exp_avg_sq", p.localShape()), p.weightDecay()));
                    continue;
                }
                long lo = Math.max(from, b.shardStart), hi = Math.min(to, b.shardStart + b.shardLength);
                if (lo >= hi) continue;
                long len = hi - lo;
                Bucket bucket = b;
                java.util.function.Supplier<Tensor> param = zero == 3
                        ? () -> Bucket.range(bucket.paramShard, lo - bucket.shardStart, len)
                        : () -> Bucket.range(bucket.flatParams, lo, len);
                java.util.function.Supplier<Tensor> grad = zero >= 2
                        ? () -> Bucket.range(bucket.gradShard, lo - bucket.shardStart, len)
                        : () -> Bucket.range(bucket.flatGrads, lo, len);
                slots.add(new AdamWOptimizer.Slot(p.name(), lo - from, param, grad,
                        Tensor.zeros(dev, MemoryTag.OPTIMIZER, p.name() + ".exp_avg", (int) len),
                        Tensor.zeros(dev, MemoryTag.OPTIMIZER, p.name() + ".exp_avg_sq", (int) len), p.weightDecay()));
            }
        }
        return slots;
    }

    /** Elements per bucket, in backward order (for memory and communication formulas). */
    public long[] bucketCounts() {
        return buckets.stream().mapToLong(b -> b.count).toArray();
    }

    /** True when each rank's slots hold only part of the gradients, so their norm must be summed over the group. */
    public boolean gradientsSharded() {
        return zero >= 1 && group.size() > 1;
    }

    /** ZeRO-1/2: every rank updated its chunk; gather the full parameters everywhere. */
    public void afterOptimizerStep() {
        if (zero == 0 || zero == 3) return;
        for (Bucket b : buckets) {
            try (Tensor mine = Tensor.empty(model.device(), MemoryTag.COMM, "allgather.input", Math.toIntExact(Math.max(1, b.shardLength)))) {
                if (b.shardLength > 0) mine.rowsView(0, (int) b.shardLength).copyFrom(Bucket.range(b.flatParams, b.shardStart, b.shardLength));
                group.allGather(mine.segment().asSlice(0, b.shardLength * Float.BYTES), b.flatParams.segment());
            }
        }
    }

    /**
     * ZeRO-3: materializes every parameter and keeps them until {@link #releaseAll} (for
     * checkpoints and evaluation, where ranks may run different numbers of forward passes).
     */
    public void gatherAll() {
        if (zero != 3) return;
        for (Bucket b : buckets) gather(b);
        holding = true;
    }

    public void releaseAll() {
        if (zero != 3) return;
        holding = false;
        for (Bucket b : buckets) release(b);
    }

    public void close() {
        for (Bucket b : buckets) {
            for (Parameter p : b.params) {
                p.releaseData();
                p.releaseGrad();
            }
            if (b.flatParams != null) b.flatParams.close();
            if (b.paramShard != null) b.paramShard.close();
            if (b.flatGrads != null) b.flatGrads.close();
            if (b.gradShard != null) b.gradShard.close();
        }
    }
}
