package fourfold.engine.model;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import fourfold.engine.UserError;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The shape of a Llama model, as Hugging Face's LlamaConfig describes it (untied lm_head, no
 * biases, SiLU-gated MLP, RoPE rotate-half).
 *
 * @param vocabSize tokens in the vocabulary (256 for the byte tokenizer)
 * @param dim       model width C (hidden_size)
 * @param nLayers   decoder blocks
 * @param nHeads    query heads
 * @param nKvHeads  key/value heads (grouped-query attention: nHeads / nKvHeads queries share one)
 * @param ffnDim    MLP hidden width (intermediate_size)
 * @param maxSeq    longest sequence the model is meant for (max_position_embeddings)
 * @param ropeTheta RoPE base
 * @param normEps   RMSNorm epsilon
 */
public record LlamaConfig(int vocabSize, int dim, int nLayers, int nHeads, int nKvHeads, int ffnDim, int maxSeq,
                          double ropeTheta, double normEps) {
    public static final double DEFAULT_ROPE_THETA = 10_000.0;
    public static final double DEFAULT_NORM_EPS = 1e-5;

    private static final Map<String, LlamaConfig> PRESETS = new LinkedHashMap<>();

    static {
        PRESETS.put("test", of(256, 64, 4, 4, 2, 128, 32));
        PRESETS.put("tiny", of(256, 128, 4, 4, 4, 384, 64));   // the size of nanoGPT's CPU example
        PRESETS.put("small", of(256, 384, 6, 6, 6, 1024, 256));
    }

    /** Validates every field; each problem is one line naming the fields and values. */
    public LlamaConfig {
        requirePositive("vocab_size", vocabSize);
        requirePositive("hidden_size (dim)", dim);
        requirePositive("num_hidden_layers", nLayers);
        requirePositive("num_attention_heads", nHeads);
        requirePositive("num_key_value_heads", nKvHeads);
        requirePositive("intermediate_size (ffn dim)", ffnDim);
        requirePositive("max_position_embeddings (max seq)", maxSeq);
        if (dim % nHeads != 0) {
            throw new UserError("invalid model config: hidden_size " + dim + " is not divisible by num_attention_heads " + nHeads);
        }
        if (nHeads % nKvHeads != 0) {
            throw new UserError("invalid model config: num_attention_heads " + nHeads
                    + " is not divisible by num_key_value_heads " + nKvHeads);
        }
        if ((dim / nHeads) % 2 != 0) {
            throw new UserError("invalid model config: head size " + dim + "/" + nHeads + " = " + dim / nHeads
                    + " is odd; RoPE rotates pairs, so it must be even");
        }
        if (!(ropeTheta > 0) || Double.isInfinite(ropeTheta)) {
            throw new UserError("invalid model config: rope_theta must be a positive number, got " + ropeTheta);
        }
        if (!(normEps > 0) || Double.isInfinite(normEps)) {
            throw new UserError("invalid model config: rms_norm_eps must be a positive number, got " + normEps);
        }
    }

    /** A config with the default rope_theta (10000) and norm epsilon (1e-5). */
    public static LlamaConfig of(int vocabSize, int dim, int nLayers, int nHeads, int nKvHeads, int ffnDim, int maxSeq) {
        return new LlamaConfig(vocabSize, dim, nLayers, nHeads, nKvHeads, ffnDim, maxSeq, DEFAULT_ROPE_THETA, DEFAULT_NORM_EPS);
    }

    /** A named preset ({@code test}, {@code tiny}, {@code small}); anything else is a {@link UserError}. */
    public static LlamaConfig preset(String name) {
        LlamaConfig c = PRESETS.get(name);
        if (c == null) throw new UserError("unknown preset '" + name + "'; expected one of " + String.join(", ", PRESETS.keySet()));
        return c;
    }

    /** Preset names in order of size. */
    public static List<String> presetNames() {
        return List.copyOf(PRESETS.keySet());
    }

    /** Width of one attention head: dim / nHeads. */
    public int headSize() {
        return dim / nHeads;
    }

    /** Query heads per key/value head. */
    public int groupSize() {
        return nHeads / nKvHeads;
    }

    /** Width of the key (and value) projection: nKvHeads * headSize. */
    public int kvDim() {
        return nKvHeads * headSize();
    }

    public LlamaConfig withMaxSeq(int maxSeq) {
        return new LlamaConfig(vocabSize, dim, nLayers, nHeads, nKvHeads, ffnDim, maxSeq, ropeTheta, normEps);
    }

    /** Parameters in one decoder block: q, k, v, o, gate, up, down and the two norm weights. */
    public long parametersPerLayer() {
        long attn = (long) dim * dim            // q_proj (dim x dim)
                + 2L * kvDim() * dim            // k_proj, v_proj (kvDim x dim)
                + (long) dim * dim;             // o_proj (dim x dim)
        long mlp = 3L * ffnDim * dim;           // gate_proj, up_proj (ffn x dim), down_proj (dim x ffn)
        return attn + mlp + 2L * dim;           // input_layernorm, post_attention_layernorm
    }

    /** All parameters: embedding + blocks + final norm + untied lm_head. */
    public long parameterCount() {
        return (long) vocabSize * dim + nLayers * parametersPerLayer() + dim + (long) vocabSize * dim;
    }

    // ---- Hugging Face config.json ----------------------------------------------------------

    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().serializeNulls().create();

    /**
     * config.json as {@code transformers.LlamaConfig} writes it, so that
     * {@code LlamaForCausalLM.from_pretrained(dir)} builds this model.
     */
    public String toHfJson() {
        JsonObject o = new JsonObject();
        JsonArray arch = new JsonArray();
        arch.add("LlamaForCausalLM");
        o.add("architectures", arch);
        o.addProperty("model_type", "llama");
        o.addProperty("vocab_size", vocabSize);
        o.addProperty("hidden_size", dim);
        o.addProperty("intermediate_size", ffnDim);
        o.addProperty("num_hidden_layers", nLayers);
        o.addProperty("num_attention_heads", nHeads);
        o.addProperty("num_key_value_heads", nKvHeads);
        o.addProperty("head_dim", headSize());
        o.addProperty("hidden_act", "silu");
        o.addProperty("max_position_embeddings", maxSeq);
        o.addProperty("rms_norm_eps", normEps);
        o.addProperty("rope_theta", ropeTheta);
        o.add("rope_scaling", JsonNull.INSTANCE);
        o.addProperty("attention_bias", false);
        o.addProperty("mlp_bias", false);
        o.addProperty("tie_word_embeddings", false);
        o.addProperty("torch_dtype", "float32");
        return GSON.toJson(o) + "\n";
    }

    /** Writes {@link #toHfJson()} to {@code file}. */
    public void writeHfJson(Path file) throws IOException {
        Files.writeString(file, toHfJson(), StandardCharsets.UTF_8);
    }

    /** Reads a config.json file (or the config.json inside a checkpoint directory). */
    public static LlamaConfig readHfJson(Path fileOrDir) {
        Path file = Files.isDirectory(fileOrDir) ? fileOrDir.resolve("config.json") : fileOrDir;
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new UserError("model config " + file + " does not exist");
        } catch (IOException e) {
            throw new UserError("cannot read model config " + file + ": " + e);
        }
        return fromHfJson(text, file.toString());
    }

    /**
     * Parses Hugging Face Llama config.json text. Required: hidden_size, intermediate_size,
     * num_hidden_layers, num_attention_heads, vocab_size, max_position_embeddings.
     * num_key_value_heads defaults to num_attention_heads, rope_theta to 10000 and rms_norm_eps
     * to 1e-6 (transformers' defaults). Features fourfold does not implement (tied embeddings,
     * biases, RoPE scaling, another activation or head_dim) are refused rather than ignored.
     *
     * @param source where the text came from, for messages
     */
    public static LlamaConfig fromHfJson(String json, String source) {
        JsonObject o;
        try {
            JsonElement e = JsonParser.parseString(json);
            if (!e.isJsonObject()) throw new UserError("model config " + source + " is not a JSON object");
            o = e.getAsJsonObject();
        } catch (JsonParseException e) {
            throw new UserError("model config " + source + " is not valid JSON: " + oneLine(e.getMessage()));
        }
        String modelType = string(o, "model_type", "llama", source);
        if (!modelType.equals("llama")) {
            throw new UserError("model config " + source + ": model_type '" + modelType + "' is not supported, expected 'llama'");
        }
        String act = string(o, "hidden_act", "silu", source);
        if (!act.equals("silu")) {
            throw new UserError("model config " + source + ": hidden_act '" + act + "' is not supported, expected 'silu'");
        }
        if (bool(o, "tie_word_embeddings", false, source)) {
            throw new UserError("model config " + source + ": tie_word_embeddings=true is not supported (fourfold's lm_head is untied)");
        }
        if (bool(o, "attention_bias", false, source) || bool(o, "mlp_bias", false, source)) {
            throw new UserError("model config " + source + ": attention_bias/mlp_bias are not supported (Llama has no biases)");
        }
        if (o.has("rope_scaling") && !o.get("rope_scaling").isJsonNull()) {
            throw new UserError("model config " + source + ": rope_scaling is not supported, expected null");
        }
        int heads = integer(o, "num_attention_heads", null, source);
        LlamaConfig c = new LlamaConfig(
                integer(o, "vocab_size", null, source),
                integer(o, "hidden_size", null, source),
                integer(o, "num_hidden_layers", null, source),
                heads,
                integer(o, "num_key_value_heads", heads, source),
                integer(o, "intermediate_size", null, source),
                integer(o, "max_position_embeddings", null, source),
                number(o, "rope_theta", DEFAULT_ROPE_THETA, source),
                number(o, "rms_norm_eps", 1e-6, source));
        if (o.has("head_dim") && !o.get("head_dim").isJsonNull()) {
            int hd = integer(o, "head_dim", null, source);
            if (hd != c.headSize()) {
                throw new UserError("model config " + source + ": head_dim " + hd + " differs from hidden_size/num_attention_heads = "
                        + c.headSize() + "; fourfold needs head_dim = hidden_size / num_attention_heads");
            }
        }
        return c;
    }

    private static JsonPrimitive primitive(JsonObject o, String key, String source) {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) return null;
        if (!e.isJsonPrimitive()) throw new UserError("model config " + source + ": \"" + key + "\" must be a single value, got " + e);
        return e.getAsJsonPrimitive();
    }

    private static int integer(JsonObject o, String key, Integer dflt, String source) {
        JsonPrimitive p = primitive(o, key, source);
        if (p == null) {
            if (dflt == null) throw new UserError("model config " + source + " has no \"" + key + "\"");
            return dflt;
        }
        if (!p.isNumber()) throw new UserError("model config " + source + ": \"" + key + "\" must be an integer, got " + p);
        double v = p.getAsDouble();
        if (v != Math.rint(v) || v > Integer.MAX_VALUE || v < Integer.MIN_VALUE) {
            throw new UserError("model config " + source + ": \"" + key + "\" must be an integer, got " + p);
        }
        return (int) v;
    }

    private static double number(JsonObject o, String key, double dflt, String source) {
        JsonPrimitive p = primitive(o, key, source);
        if (p == null) return dflt;
        if (!p.isNumber()) throw new UserError("model config " + source + ": \"" + key + "\" must be a number, got " + p);
        return p.getAsDouble();
    }

    private static String string(JsonObject o, String key, String dflt, String source) {
        JsonPrimitive p = primitive(o, key, source);
        if (p == null) return dflt;
        if (!p.isString()) throw new UserError("model config " + source + ": \"" + key + "\" must be a string, got " + p);
        return p.getAsString();
    }

    private static boolean bool(JsonObject o, String key, boolean dflt, String source) {
        JsonPrimitive p = primitive(o, key, source);
        if (p == null) return dflt;
        if (!p.isBoolean()) throw new UserError("model config " + source + ": \"" + key + "\" must be true or false, got " + p);
        return p.getAsBoolean();
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replace('\n', ' ');
    }

    private static void requirePositive(String what, int v) {
        if (v <= 0) throw new UserError("invalid model config: " + what + " must be positive, got " + v);
    }

    @Override
    public String toString() {
        return "LlamaConfig(vocab=" + vocabSize + ", dim=" + dim + ", layers=" + nLayers + ", heads=" + nHeads + ", kv_heads=" + nKvHeads
                + ", ffn=" + ffnDim + ", max_seq=" + maxSeq + ", rope_theta=" + ropeTheta + ", norm_eps=" + normEps + ")";
    }
}
