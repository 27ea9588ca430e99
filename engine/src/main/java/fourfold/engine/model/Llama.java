package fourfold.engine.model;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.engine.cp.ContextParallel;
import fourfold.engine.kernels.Rope;
import fourfold.engine.tensor.Tensor;
import fourfold.engine.tp.TensorParallel;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A Llama decoder, or the part of it one pipeline stage holds: decoder layers [firstLayer,
 * lastLayer), plus the embedding on the first stage and the final norm, lm_head and loss on the
 * last. Computes exactly what Hugging Face's LlamaForCausalLM computes (untied lm_head).
 *
 * <p>Forward and backward of one micro-batch are separate calls with a {@link ForwardContext}
 * between them, so a pipeline schedule can interleave micro-batches.
 */
public final class Llama implements AutoCloseable {
    private final LlamaConfig config;
    private final Device device;
    private final TensorParallel tp;
    private final int firstLayer, lastLayer;
    private final EmbeddingLayer embedding;     // first stage only
    private final List<Block> blocks = new ArrayList<>();
    private final LmHead head;                  // last stage only
    private final List<List<Parameter>> units = new ArrayList<>();
    private final List<Integer> unitIds = new ArrayList<>();
    private final DeferredWeightGrads deferred = new DeferredWeightGrads();
    private LayerHooks hooks = LayerHooks.NONE;

    public Llama(LlamaConfig config, Device device, TensorParallel tp, int firstLayer, int lastLayer) {
        this(config, device, tp, ContextParallel.none(), firstLayer, lastLayer);
    }

    /** A stage whose attention layers see the whole sequence through {@code cp} (context parallel). */
    public Llama(LlamaConfig config, Device device, TensorParallel tp, ContextParallel cp, int firstLayer, int lastLayer) {
        int L = config.nLayers();
        if (firstLayer < 0 || lastLayer > L || firstLayer >= lastLayer) {
            throw new IllegalArgumentException("Llama stage: layers [" + firstLayer + ", " + lastLayer + ") outside [0, " + L + ")");
        }
        int t = tp.size(), r = tp.rank();
        for (var check : new int[][]{{config.nHeads(), 0}, {config.nKvHeads(), 1}, {config.ffnDim(), 2}, {config.vocabSize(), 3}}) {
            if (check[0] % t != 0) {
                String what = new String[]{"heads", "kv_heads", "ffn_dim", "vocab"}[check[1]];
                throw new IllegalArgumentException(what + "=" + check[0] + " is not divisible by tp=" + t);
            }
        }
        this.config = config;
        this.device = device;
        this.tp = tp;
        this.firstLayer = firstLayer;
        this.lastLayer = lastLayer;
        int C = config.dim(), hs = config.headSize(), F = config.ffnDim(), V = config.vocabSize();
        int nh = config.nHeads(), nkv = config.nKvHeads();

        if (firstLayer == 0) {
            embedding = new EmbeddingLayer(Parameter.sharded(device, "model.embed_tokens.weight", true, 0, r, t, V, C), tp);
            addUnit(0, List.of(embedding.table()));
        } else {
            embedding = null;
        }
        Rope rope = new Rope(hs, config.maxSeq(), config.ropeTheta());
        for (int i = firstLayer; i < lastLayer; i++) {
            String p = "model.layers." + i + ".";
            Linear wq = new Linear(Parameter.sharded(device, p + "self_attn.q_proj.weight", true, 0, r, t, nh * hs, C), deferred);
            Linear wk = new Linear(Parameter.sharded(device, p + "self_attn.k_proj.weight", true, 0, r, t, nkv * hs, C), deferred);
            Linear wv = new Linear(Parameter.sharded(device, p + "self_attn.v_proj.weight", true, 0, r, t, nkv * hs, C), deferred);
            Linear wo = new Linear(Parameter.sharded(device, p + "self_attn.o_proj.weight", true, 1, r, t, C, nh * hs), deferred);
            Linear gate = new Linear(Parameter.sharded(device, p + "mlp.gate_proj.weight", true, 0, r, t, F, C), deferred);
            Linear up = new Linear(Parameter.sharded(device, p + "mlp.up_proj.weight", true, 0, r, t, F, C), deferred);
            Linear down = new Linear(Parameter.sharded(device, p + "mlp.down_proj.weight", true, 1, r, t, C, F), deferred);
            RmsNormLayer n1 = new RmsNormLayer(Parameter.replicated(device, p + "input_layernorm.weight", false, C), config.normEps());
            RmsNormLayer n2 = new RmsNormLayer(Parameter.replicated(device, p + "post_attention_layernorm.weight", false, C), config.normEps());
            Block b = new Block(i, n1, new AttentionLayer(wq, wk, wv, wo, nh / t, nkv / t, hs, rope, tp, cp), n2, new Mlp(gate, up, down, tp));
            blocks.add(b);
            addUnit(i + 1, b.parameters());
        }
        if (lastLayer == L) {
            RmsNormLayer norm = new RmsNormLayer(Parameter.replicated(device, "model.norm.weight", false, C), config.normEps());
            Linear proj = new Linear(Parameter.sharded(device, "lm_head.weight", true, 0, r, t, V, C), deferred);
            head = new LmHead(norm, proj, tp);
            addUnit(L + 1, head.parameters());
        } else {
            head = null;
        }
    }

    /** The whole model on one device. */
    public static Llama singleDevice(LlamaConfig config, Device device) {
        return new Llama(config, device, TensorParallel.none(), 0, config.nLayers());
    }

    private void addUnit(int id, List<Parameter> ps) {
        units.add(List.copyOf(ps));
        unitIds.add(id);
    }

    public LlamaConfig config() {
        return config;
    }

    public Device device() {
        return device;
    }

    public TensorParallel tp() {
        return tp;
    }

    public boolean isFirstStage() {
        return embedding != null;
    }

    public boolean isLastStage() {
        return head != null;
    }

    public void setHooks(LayerHooks hooks) {
        this.hooks = hooks;
    }

    /** Parameters grouped by unit, in forward order (embedding, layers, head). */
    public List<List<Parameter>> units() {
        return Collections.unmodifiableList(units);
    }

    /** Global unit id of local unit i (0 = embedding, l + 1 = layer l, L + 1 = head). */
    public int unitId(int i) {
        return unitIds.get(i);
    }

    public List<Parameter> parameters() {
        List<Parameter> all = new ArrayList<>();
        for (List<Parameter> u : units) all.addAll(u);
        return all;
    }

    /** Allocates every parameter and fills it with the deterministic initial values of {@link Init}. */
    public void initialize(long seed) {
        for (Parameter p : parameters()) {
            p.setData(Tensor.of(device, MemoryTag.PARAMS, p.name(), Init.localSlice(p, Init.fullValues(p, seed)), p.localShape()));
        }
    }

    /** Allocates every parameter from full (unsharded) values, e.g. read from a checkpoint. */
    public void load(java.util.function.Function<Parameter, float[]> fullValues) {
        for (Parameter p : parameters()) {
            p.setData(Tensor.of(device, MemoryTag.PARAMS, p.name(), Init.localSlice(p, fullValues.apply(p)), p.localShape()));
        }
    }

    public void zeroGrads() {
        for (Parameter p : parameters()) p.zeroGrad();
    }

    /** What one micro-batch's forward leaves for its backward. */
    public final class ForwardContext implements AutoCloseable {
        private final MicroBatch mb;
        private final Tensor[] hidden = new Tensor[blocks.size() + 1]; // hidden[i]: input of local block i (this rank's rows)
        private final Block.Saved[] saved = new Block.Saved[blocks.size()];
        private LmHead.Saved headSaved;
        private double lossSum;

        private ForwardContext(MicroBatch mb) {
            this.mb = mb;
        }

        /** Sum of this micro-batch's token losses (last stage only). */
        public double lossSum() {
            return lossSum;
        }

        /** The stage's output activations (this rank's token rows, C), to send to the next stage. */
        public Tensor output() {
            return hidden[blocks.size()];
        }

        @Override
        public void close() {
            for (Block.Saved s : saved) if (s != null) s.close();
            for (Tensor h : hidden) if (h != null) h.close();
            if (headSaved != null) headSaved.close();
        }
    }

    /**
     * Runs forward for one micro-batch. {@code input} is the previous stage's output, or null on
     * the first stage. On the last stage the loss gradient (scaled by gradScale) is kept.
     */
    public ForwardContext forward(MicroBatch mb, Tensor input, float gradScale) {
        ForwardContext ctx = new ForwardContext(mb);
        int u = 0;
        if (embedding != null) {
            hooks.beforeForward(unitId(u));
            ctx.hidden[0] = embedding.forward(mb.inputs(), config.dim(), "embeddings");
            hooks.afterForward(unitId(u++));
        } else {
            ctx.hidden[0] = Tensor.empty(device, MemoryTag.ACTIVATIONS, "stage input", input.rows(), input.cols());
            ctx.hidden[0].copyFrom(input);
        }
        for (int i = 0; i < blocks.size(); i++) {
            hooks.beforeForward(unitId(u));
            Output<Block.Saved> o = blocks.get(i).forward(ctx.hidden[i], mb);
            ctx.hidden[i + 1] = o.out();
            ctx.saved[i] = o.saved();
            hooks.afterForward(unitId(u++));
        }
        if (head != null) {
            hooks.beforeForward(unitId(u));
            LmHead.Result r = head.forward(ctx.output(), mb.targets(), gradScale, true);
            ctx.lossSum = r.lossSum();
            ctx.headSaved = r.saved();
            hooks.afterForward(unitId(u));
        }
        return ctx;
    }

    /**
     * Runs backward for one micro-batch and frees its context (BW: input and weight gradients).
     * {@code dOutput} is the gradient of the stage's output from the next stage (null on the last
     * stage). Returns the gradient of the stage's input for the previous stage (null on the first
     * stage); the caller frees it.
     */
    public Tensor backward(ForwardContext ctx, Tensor dOutput) {
        return backward(ctx, dOutput, null);
    }

    /** B of a split backward: the input gradient now, the weight gradients kept for {@link #backwardWeights}. */
    public record InputGrad(Tensor dInput, DeferredWeightGrads.Work weights) {}

    public InputGrad backwardInput(ForwardContext ctx, Tensor dOutput) {
        DeferredWeightGrads.Work work = new DeferredWeightGrads.Work();
        deferred.start(work);
        try {
            return new InputGrad(backward(ctx, dOutput, work), work);
        } catch (RuntimeException | Error e) {
            work.close();
            throw e;
        } finally {
            deferred.stop();
        }
    }

    /** W of a split backward: the weight gradients B left, unit by unit; each unit's backward is then complete. */
    public void backwardWeights(DeferredWeightGrads.Work work) {
        try (work) {
            for (int i = 0; i < work.units().size(); i++) {
                work.run(i);
                hooks.afterBackward(work.units().get(i));
            }
        }
    }

    private void beginBackward(int unit) {
        hooks.beforeBackward(unit);
        deferred.beginUnit(unit);
    }

    private void endBackward(int unit) {
        if (deferred.active()) hooks.afterInputBackward(unit);
        else hooks.afterBackward(unit);
    }

    private Tensor backward(ForwardContext ctx, Tensor dOutput, DeferredWeightGrads.Work work) {
        try (ctx) {
            int u = units.size() - 1;
            Tensor d;
            if (head != null) {
                beginBackward(unitId(u));
                d = head.backward(ctx.output(), ctx.headSaved);
                ctx.headSaved = null;
                endBackward(unitId(u--));
            } else {
                d = Tensor.empty(device, MemoryTag.ACTIVATIONS, "grad.output", dOutput.rows(), dOutput.cols());
                d.copyFrom(dOutput);
            }
            for (int i = blocks.size() - 1; i >= 0; i--) {
                beginBackward(unitId(u));
                Tensor dPrev = blocks.get(i).backward(d, ctx.hidden[i], ctx.mb, ctx.saved[i]);
                ctx.saved[i] = null;
                d.close();
                d = dPrev;
                endBackward(unitId(u--));
            }
            if (embedding != null) {
                beginBackward(unitId(u));
                embedding.backward(ctx.mb.inputs(), d);
                endBackward(unitId(u));
                d.close();
                return null;
            }
            return d;
        }
    }

    /** A forward without gradient (evaluation): the stage's output (null on the last stage, which scores it) and the loss sum there. */
    public record Evaluated(Tensor output, double lossSum) {}

    /** {@code input}: the previous stage's output, or null on the first stage (it is not freed). */
    public Evaluated evaluate(MicroBatch mb, Tensor input) {
        Tensor x;
        if (embedding != null) {
            hooks.beforeForward(unitId(0));
            x = embedding.forward(mb.inputs(), config.dim(), "embeddings");
            hooks.afterForward(unitId(0));
        } else {
            x = Tensor.empty(device, MemoryTag.ACTIVATIONS, "stage input", input.rows(), input.cols());
            x.copyFrom(input);
        }
        int u = embedding != null ? 1 : 0;
        for (Block b : blocks) {
            hooks.beforeForward(unitId(u));
            Output<Block.Saved> o = b.forward(x, mb);
            o.saved().close();
            x.close();
            x = o.out();
            hooks.afterForward(unitId(u++));
        }
        if (head == null) return new Evaluated(x, 0);
        try (Tensor last = x) {
            hooks.beforeForward(unitId(u));
            double loss = head.forward(last, mb.targets(), 0f, false).lossSum();
            hooks.afterForward(unitId(u));
            return new Evaluated(null, loss);
        }
    }

    /** Sum of token losses of a micro-batch without keeping anything for backward (evaluation). */
    public double lossSum(MicroBatch mb) {
        if (embedding == null || head == null) throw new IllegalStateException("lossSum needs the whole model on one stage");
        try (Tensor x = forwardHidden(mb)) {
            return head.forward(x, mb.targets(), 0f, false).lossSum();
        }
    }

    /** Logits of the last position of one sequence of tokens, for sampling (one rank holds the whole vocabulary). */
    public float[] lastLogits(int[] tokens) {
        if (embedding == null || head == null || tp.size() > 1) throw new IllegalStateException("lastLogits needs the whole model on one device");
        MicroBatch mb = MicroBatch.causal(1, tokens.length, tokens, null);
        try (Tensor x = forwardHidden(mb); Tensor logits = head.logits(x.rowsView(tokens.length - 1, 1))) {
            return logits.toArray();
        }
    }

    /**
     * Logits of token row {@code row} of this rank's part of a micro-batch, or null when row < 0.
     * Every rank of a cp group calls it (the forward runs collectives); one holds the row.
     */
    public float[] logitsOfRow(MicroBatch mb, int row) {
        if (embedding == null || head == null || tp.size() > 1) throw new IllegalStateException("logitsOfRow needs the whole model on one stage, tp = 1");
        try (Tensor x = forwardHidden(mb)) {
            if (row < 0) return null;
            try (Tensor logits = head.logits(x.rowsView(row, 1))) {
                return logits.toArray();
            }
        }
    }

    /** Logits (B*T, V) of a micro-batch on one device (tests and tools). */
    public float[] logits(MicroBatch mb) {
        if (embedding == null || head == null || tp.size() > 1) throw new IllegalStateException("logits needs the whole model on one device");
        try (Tensor x = forwardHidden(mb); Tensor logits = head.logits(x)) {
            return logits.toArray();
        }
    }

    private Tensor forwardHidden(MicroBatch mb) {
        Tensor x = embedding.forward(mb.inputs(), config.dim(), "embeddings");
        for (Block b : blocks) {
            Output<Block.Saved> o = b.forward(x, mb);
            o.saved().close();
            x.close();
            x = o.out();
        }
        return x;
    }

    @Override
    public void close() {
        for (Parameter p : parameters()) p.close();
    }
}
