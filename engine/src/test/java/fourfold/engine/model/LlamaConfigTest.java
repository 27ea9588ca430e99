package fourfold.engine.model;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import fourfold.engine.UserError;
import fourfold.engine.io.HfNames;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LlamaConfigTest {
    @Test
    void presetsHaveTheSizesOfTheIssue() {
        assertEquals(new LlamaConfig(256, 64, 4, 4, 2, 128, 32, 10_000, 1e-5), LlamaConfig.preset("test"));
        assertEquals(new LlamaConfig(256, 128, 4, 4, 4, 384, 64, 10_000, 1e-5), LlamaConfig.preset("tiny"));
        assertEquals(new LlamaConfig(256, 384, 6, 6, 6, 1024, 256, 10_000, 1e-5), LlamaConfig.preset("small"));
        assertEquals(List.of("test", "tiny", "small"), LlamaConfig.presetNames());
        LlamaConfig t = LlamaConfig.preset("test");
        assertEquals(16, t.headSize());
        assertEquals(2, t.groupSize());
        assertEquals(32, t.kvDim());
    }

    @Test
    void unknownPresetListsTheKnownOnes() {
        UserError e = assertThrows(UserError.class, () -> LlamaConfig.preset("huge"));
        assertEquals("unknown preset 'huge'; expected one of test, tiny, small", e.getMessage());
    }

    @Test
    void invalidShapesAreRefusedWithOneClearLine() {
        assertMessage("hidden_size 100 is not divisible by num_attention_heads 3", () -> LlamaConfig.of(256, 100, 2, 3, 3, 64, 16));
        assertMessage("num_attention_heads 6 is not divisible by num_key_value_heads 4", () -> LlamaConfig.of(256, 96, 2, 6, 4, 64, 16));
        assertMessage("head size 60/4 = 15 is odd", () -> LlamaConfig.of(256, 60, 2, 4, 4, 64, 16));
        assertMessage("hidden_size (dim) must be positive, got 0", () -> LlamaConfig.of(256, 0, 2, 4, 4, 64, 16));
        assertMessage("vocab_size must be positive, got -1", () -> LlamaConfig.of(-1, 64, 2, 4, 4, 64, 16));
        assertMessage("num_hidden_layers must be positive", () -> LlamaConfig.of(256, 64, 0, 4, 4, 64, 16));
        assertMessage("num_key_value_heads must be positive", () -> LlamaConfig.of(256, 64, 2, 4, 0, 64, 16));
        assertMessage("intermediate_size (ffn dim) must be positive", () -> LlamaConfig.of(256, 64, 2, 4, 4, 0, 16));
        assertMessage("max_position_embeddings (max seq) must be positive", () -> LlamaConfig.of(256, 64, 2, 4, 4, 64, 0));
        assertMessage("rope_theta must be a positive number", () -> new LlamaConfig(256, 64, 2, 4, 4, 64, 16, 0, 1e-5));
        assertMessage("rms_norm_eps must be a positive number", () -> new LlamaConfig(256, 64, 2, 4, 4, 64, 16, 1e4, Double.NaN));
    }

    @Test
    void parameterCountMatchesAHandCountAndTheHfTensorList() {
        // test: embed 256*64 + 4 * (q 64*64 + k,v 2*32*64 + o 64*64 + mlp 3*128*64 + norms 2*64) + norm 64 + head 256*64
        assertEquals(16_384 + 4 * (4_096 + 4_096 + 4_096 + 24_576 + 128) + 64 + 16_384, LlamaConfig.preset("test").parameterCount());
        assertEquals(180_800, LlamaConfig.preset("test").parameterCount());
        assertEquals(918_656, LlamaConfig.preset("tiny").parameterCount());
        for (String p : LlamaConfig.presetNames()) {
            LlamaConfig c = LlamaConfig.preset(p);
            long sum = HfNames.params(c).stream().mapToLong(HfNames.Param::numel).sum();
            assertEquals(sum, c.parameterCount(), "parameter count of " + p + " = sum over its tensors");
        }
    }

    @Test
    void hfJsonHasExactlyTheHuggingFaceKeysAndRoundTrips() {
        LlamaConfig c = LlamaConfig.preset("test");
        JsonObject o = JsonParser.parseString(c.toHfJson()).getAsJsonObject();
        assertEquals(64, o.get("hidden_size").getAsInt());
        assertEquals(128, o.get("intermediate_size").getAsInt());
        assertEquals(4, o.get("num_hidden_layers").getAsInt());
        assertEquals(4, o.get("num_attention_heads").getAsInt());
        assertEquals(2, o.get("num_key_value_heads").getAsInt());
        assertEquals(256, o.get("vocab_size").getAsInt());
        assertEquals(1e-5, o.get("rms_norm_eps").getAsDouble());
        assertEquals(10_000.0, o.get("rope_theta").getAsDouble());
        assertEquals(32, o.get("max_position_embeddings").getAsInt());
        assertFalse(o.get("tie_word_embeddings").getAsBoolean());
        assertEquals("LlamaForCausalLM", o.getAsJsonArray("architectures").get(0).getAsString());
        assertEquals(1, o.getAsJsonArray("architectures").size());
        assertEquals("llama", o.get("model_type").getAsString());
        assertEquals("silu", o.get("hidden_act").getAsString());
        assertEquals("float32", o.get("torch_dtype").getAsString());
        assertEquals(Set.of("architectures", "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                "num_attention_heads", "num_key_value_heads", "head_dim", "hidden_act", "max_position_embeddings", "rms_norm_eps",
                "rope_theta", "rope_scaling", "attention_bias", "mlp_bias", "tie_word_embeddings", "torch_dtype"), o.keySet());
        for (String p : LlamaConfig.presetNames()) {
            LlamaConfig q = LlamaConfig.preset(p);
            assertEquals(q, LlamaConfig.fromHfJson(q.toHfJson(), p), "round trip of " + p);
        }
        LlamaConfig odd = new LlamaConfig(300, 96, 3, 6, 2, 200, 77, 500_000, 1e-6);
        assertEquals(odd, LlamaConfig.fromHfJson(odd.toHfJson(), "odd"), "round trip of a non-preset config");
    }

    @Test
    void readsAConfigAsTransformersWritesItIgnoringUnusedKeys() {
        String hf = """
                {
                  "_name_or_path": "x", "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
                  "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
                  "intermediate_size": 5632, "max_position_embeddings": 2048, "model_type": "llama", "num_attention_heads": 32,
                  "num_hidden_layers": 22, "num_key_value_heads": 4, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
                  "rope_scaling": null, "rope_theta": 10000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
                  "transformers_version": "4.35.0", "use_cache": true, "vocab_size": 32000
                }""";
        assertEquals(new LlamaConfig(32000, 2048, 22, 32, 4, 5632, 2048, 10_000, 1e-5), LlamaConfig.fromHfJson(hf, "tinyllama"));
    }

    @Test
    void badConfigJsonIsRefusedNamingTheSourceAndTheKey() {
        String ok = LlamaConfig.preset("test").toHfJson();
        assertMessage("cfg.json has no \"hidden_size\"", () -> LlamaConfig.fromHfJson(ok.replace("\"hidden_size\"", "\"hidden\""), "cfg.json"));
        assertMessage("cfg.json is not valid JSON", () -> LlamaConfig.fromHfJson("{\"hidden_size\": ", "cfg.json"));
        assertMessage("cfg.json is not a JSON object", () -> LlamaConfig.fromHfJson("[1]", "cfg.json"));
        assertMessage("\"num_hidden_layers\" must be an integer, got 2.5",
                () -> LlamaConfig.fromHfJson(ok.replace("\"num_hidden_layers\": 4", "\"num_hidden_layers\": 2.5"), "cfg.json"));
        assertMessage("tie_word_embeddings=true is not supported",
                () -> LlamaConfig.fromHfJson(ok.replace("\"tie_word_embeddings\": false", "\"tie_word_embeddings\": true"), "cfg.json"));
        assertMessage("model_type 'gpt2' is not supported",
                () -> LlamaConfig.fromHfJson(ok.replace("\"model_type\": \"llama\"", "\"model_type\": \"gpt2\""), "cfg.json"));
        assertMessage("head_dim 8 differs", () -> LlamaConfig.fromHfJson(ok.replace("\"head_dim\": 16", "\"head_dim\": 8"), "cfg.json"));
        assertMessage("num_attention_heads 4 is not divisible by num_key_value_heads 3",
                () -> LlamaConfig.fromHfJson(ok.replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"), "cfg.json"));
    }

    private static void assertMessage(String expectedPart, Runnable r) {
        UserError e = assertThrows(UserError.class, r::run);
        assertTrue(e.getMessage().contains(expectedPart), "message \"" + e.getMessage() + "\" should contain \"" + expectedPart + "\"");
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }
}
