package fourfold.engine.train;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.devices.comm.ProcessGroup;
import fourfold.engine.model.Init;
import fourfold.engine.model.Llama;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.model.Parameter;
import fourfold.engine.pp.StageSplit;
import fourfold.engine.tensor.Tensor;
import fourfold.engine.tp.TensorParallel;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Whole tensors out of a sharded model, for checkpoints: each stage's tensors are gathered over
 * the tp group on the rank that holds the stage, then sent to pp rank 0, which ends up with every
 * tensor of the model, in Hugging Face order, whatever the layout.
 */
final class CheckpointAssembly {
    private CheckpointAssembly() {}

    // One tag for every tensor: each owner sends its stages' tensors in the order pp rank 0 receives
    // them, and messages of one tag arrive in order. Assembly runs between steps, when no pipeline
    // message is in flight, so the tag may be one the pipeline also uses.
    private static final int TAG = 32767;

    /** Every parameter's full shape by name, in model order. */
    static Map<String, int[]> shapes(LlamaConfig config, StageSplit split, Device device, TensorParallel tp) {
        Map<String, int[]> out = new LinkedHashMap<>();
        for (int s = 0; s < split.stages(); s++) {
            for (Parameter p : skeleton(config, split, s, device, tp).parameters()) out.put(p.name(), p.fullShape());
        }
        return out;
    }

    /**
     * The full tensors of {@code local} (this rank's tp shard of a parameter's values: weights or
     * optimizer moments) for every parameter of the model, on pp rank 0; other ranks get only
     * their own stages'. Every rank of the pp and tp groups must call it.
     */
    static Map<String, float[]> assemble(RankModel model, LlamaConfig config, StageSplit split, Function<Parameter, float[]> local) {
        ProcessGroup pp = model.ppGroup();
        int p = pp.size(), me = pp.rank();
        Map<String, float[]> out = new LinkedHashMap<>();
        for (int s = 0; s < split.stages(); s++) {
            int owner = s % p;
            if (owner != me && me != 0) continue;
            Llama stage = owner == me ? model.chunks().get(s / p) : skeleton(config, split, s, model.device(), model.tp());
            List<Parameter> params = stage.parameters();
            for (int i = 0; i < params.size(); i++) {
                Parameter param = params.get(i);
                if (owner == me) {
                    float[] full = gatherShards(param, local.apply(param), model.tp());
                    if (me == 0) out.put(param.name(), full);
                    else send(pp, full, TAG);
                } else {
                    out.put(param.name(), receive(pp, owner, numel(param.fullShape()), TAG));
                }
            }
        }
        return out;
    }

    private static Llama skeleton(LlamaConfig config, StageSplit split, int stage, Device device, TensorParallel tp) {
        return new Llama(config, device, tp, split.firstLayer(stage), split.endLayer(stage)); // parameters hold no memory until set
    }

    private static int numel(int[] shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    private static void send(ProcessGroup pp, float[] values, int tag) {
        try (Tensor t = Tensor.of(pp.device(), MemoryTag.COMM, "checkpoint.send", values, values.length)) {
            pp.send(t.segment(), 0, tag);
        }
    }

    private static float[] receive(ProcessGroup pp, int from, int count, int tag) {
        try (Tensor t = Tensor.empty(pp.device(), MemoryTag.COMM, "checkpoint.recv", count)) {
            pp.recv(t.segment(), from, tag);
            return t.toArray();
        }
    }

    /** The full tensor of {@code p} from every tp rank's shard (all-gather over the tp group). */
    static float[] gatherShards(Parameter p, float[] local, TensorParallel tp) {
        if (p.shardDim() < 0 || tp.size() == 1) return local;
        Device dev = p.device();
        try (Tensor mine = Tensor.of(dev, MemoryTag.COMM, "gather.shard", local, local.length);
             Tensor all = Tensor.empty(dev, MemoryTag.COMM, "gather.full", local.length * tp.size())) {
            tp.group().allGather(mine.segment(), all.segment());
            return Init.fromShards(p, all.toArray(), tp.size());
        }
    }
}
