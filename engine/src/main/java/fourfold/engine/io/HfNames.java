package fourfold.engine.io;

import fourfold.engine.UserError;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.tensor.Shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Hugging Face LlamaForCausalLM parameter names and shapes, the naming of checkpoints on disk.
 * Linear weights are stored as torch.nn.Linear keeps them, [out_features, in_features], so
 * y = x W^T.
 */
public final class HfNames {
    public static final String EMBED = "model.embed_tokens.weight";
    public static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";

    private HfNames() {}

    /**
     * One parameter: its name, its shape, and whether AdamW decays it (2-D weight matrices yes,
     * norm weights no).
     */
    public record Param(String name, int[] shape, boolean decay) {
        public Param {
            shape = shape.clone();
        }

        @Override
        public int[] shape() {
            return shape.clone();
        }

        public long numel() {
            return Shape.numel(shape);
        }

        @Override
        public String toString() {
            return name + Shape.str(shape);
        }
    }

    private static String layer(int i) {
        return "model.layers." + i + ".";
    }

    public static String q(int layer) { return layer(layer) + "self_attn.q_proj.weight"; }
    public static String k(int layer) { return layer(layer) + "self_attn.k_proj.weight"; }
    public static String v(int layer) { return layer(layer) + "self_attn.v_proj.weight"; }
    public static String o(int layer) { return layer(layer) + "self_attn.o_proj.weight"; }
    public static String gate(int layer) { return layer(layer) + "mlp.gate_proj.weight"; }
    public static String up(int layer) { return layer(layer) + "mlp.up_proj.weight"; }
    public static String down(int layer) { return layer(layer) + "mlp.down_proj.weight"; }
    public static String inputNorm(int layer) { return layer(layer) + "input_layernorm.weight"; }
    public static String postAttentionNorm(int layer) { return layer(layer) + "post_attention_layernorm.weight"; }

    /** The parameters of one decoder block, in Hugging Face's state_dict order. */
    public static List<Param> layerParams(LlamaConfig c, int i) {
        int C = c.dim(), F = c.ffnDim(), kv = c.kvDim();
        return List.of(
                new Param(q(i), new int[] {C, C}, true),          // (n_heads * head_size, C)
                new Param(k(i), new int[] {kv, C}, true),         // (n_kv_heads * head_size, C)
                new Param(v(i), new int[] {kv, C}, true),
                new Param(o(i), new int[] {C, C}, true),          // (C, n_heads * head_size)
                new Param(gate(i), new int[] {F, C}, true),
                new Param(up(i), new int[] {F, C}, true),
                new Param(down(i), new int[] {C, F}, true),
                new Param(inputNorm(i), new int[] {C}, false),
                new Param(postAttentionNorm(i), new int[] {C}, false));
    }

    /** Every parameter of the model, in Hugging Face's state_dict order. */
    public static List<Param> params(LlamaConfig c) {
        List<Param> out = new ArrayList<>();
        out.add(new Param(EMBED, new int[] {c.vocabSize(), c.dim()}, true));
        for (int i = 0; i < c.nLayers(); i++) out.addAll(layerParams(c, i));
        out.add(new Param(FINAL_NORM, new int[] {c.dim()}, false));
        out.add(new Param(LM_HEAD, new int[] {c.vocabSize(), c.dim()}, true));
        return out;
    }

    /**
     * Checks that a safetensors file holds exactly the parameters of {@code c}: every name, with
     * its shape, and nothing else. The error names the first mismatch, so loading a checkpoint
     * of another model says why in one line.
     */
    public static void requireMatches(SafetensorsReader file, LlamaConfig c) {
        Set<String> expected = new LinkedHashSet<>();
        for (Param p : params(c)) {
            expected.add(p.name());
            if (!file.has(p.name())) {
                throw new UserError("checkpoint " + file.path() + " does not match the model config (" + c + "): tensor \"" + p.name() + "\" is missing");
            }
            int[] got = file.info(p.name()).shape();
            if (!Arrays.equals(got, p.shape())) {
                throw new UserError("checkpoint " + file.path() + " does not match the model config: \"" + p.name() + "\" has shape "
                        + Shape.str(got) + ", the config needs " + Shape.str(p.shape()));
            }
        }
        for (String n : file.names()) {
            if (!expected.contains(n)) {
                throw new UserError("checkpoint " + file.path() + " does not match the model config (" + c + "): unexpected tensor \"" + n + "\"");
            }
        }
    }
}
