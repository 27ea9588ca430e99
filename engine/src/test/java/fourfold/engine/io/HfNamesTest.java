package fourfold.engine.io;

import fourfold.engine.UserError;
import fourfold.engine.model.LlamaConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HfNamesTest {
    @TempDir
    Path dir;

    private static final LlamaConfig TEST = LlamaConfig.preset("test");

    @Test
    void namesAndShapesFollowHuggingFaceLlama() {
        List<HfNames.Param> ps = HfNames.params(TEST);
        assertEquals(1 + 9 * 4 + 2, ps.size(), "embedding, 9 per layer, final norm, lm_head");
        assertEquals("model.embed_tokens.weight", ps.get(0).name());
        assertArrayEquals(new int[] {256, 64}, ps.get(0).shape());
        List<String> layer3 = ps.subList(1 + 27, 1 + 36).stream().map(HfNames.Param::name).toList();
        assertEquals(List.of(
                "model.layers.3.self_attn.q_proj.weight", "model.layers.3.self_attn.k_proj.weight",
                "model.layers.3.self_attn.v_proj.weight", "model.layers.3.self_attn.o_proj.weight",
                "model.layers.3.mlp.gate_proj.weight", "model.layers.3.mlp.up_proj.weight", "model.layers.3.mlp.down_proj.weight",
                "model.layers.3.input_layernorm.weight", "model.layers.3.post_attention_layernorm.weight"), layer3);
        // Linear weights are [out_features, in_features].
        int[][] shapes = {{64, 64}, {32, 64}, {32, 64}, {64, 64}, {128, 64}, {128, 64}, {64, 128}, {64}, {64}};
        for (int i = 0; i < 9; i++) assertArrayEquals(shapes[i], ps.get(1 + 27 + i).shape(), layer3.get(i));
        assertEquals("model.norm.weight", ps.get(37).name());
        assertEquals("lm_head.weight", ps.get(38).name());
        assertArrayEquals(new int[] {256, 64}, ps.get(38).shape());
        for (HfNames.Param p : ps) assertEquals(p.shape().length == 2, p.decay(), "weight decay exactly on 2-D weights: " + p);
    }

    private Path write(LlamaConfig c, String skip, String extra) {
        SafetensorsWriter w = new SafetensorsWriter();
        for (HfNames.Param p : HfNames.params(c)) if (!p.name().equals(skip)) w.add(p.name(), new float[(int) p.numel()], p.shape());
        if (extra != null) w.add(extra, new float[1], 1);
        Path f = dir.resolve("m" + System.nanoTime() + ".safetensors");
        w.write(f);
        return f;
    }

    @Test
    void acceptsAMatchingCheckpointAndRefusesOthersNamingTheTensor() {
        try (SafetensorsReader r = SafetensorsReader.open(write(TEST, null, null))) {
            HfNames.requireMatches(r, TEST);
        }
        assertMismatch(write(TEST, HfNames.down(2), null), TEST, "tensor \"model.layers.2.mlp.down_proj.weight\" is missing");
        assertMismatch(write(TEST, null, "model.layers.9.extra"), TEST, "unexpected tensor \"model.layers.9.extra\"");
        LlamaConfig moreKv = LlamaConfig.of(256, 64, 4, 4, 4, 128, 32);
        assertMismatch(write(TEST, null, null), moreKv, "\"model.layers.0.self_attn.k_proj.weight\" has shape (32, 64), the config needs (64, 64)");
        assertMismatch(write(TEST, null, null), LlamaConfig.of(256, 64, 3, 4, 2, 128, 32), "unexpected tensor \"model.layers.3.");
    }

    private static void assertMismatch(Path f, LlamaConfig c, String part) {
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            UserError e = assertThrows(UserError.class, () -> HfNames.requireMatches(r, c));
            assertTrue(e.getMessage().contains("does not match the model config") && e.getMessage().contains(part), e.getMessage());
            assertFalse(e.getMessage().contains("\n"));
        }
    }
}
