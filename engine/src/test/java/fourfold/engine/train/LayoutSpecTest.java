package fourfold.engine.train;

import fourfold.engine.UserError;
import fourfold.engine.model.LlamaConfig;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The --layout shorthand, the list of every reason a layout cannot run, and the model FLOPs of MFU. */
class LayoutSpecTest {
    // 16 tokens, 8 channels, 2 layers, 2 heads of 4 with one shared key/value head, MLP 12.
    private static final LlamaConfig SMALL = LlamaConfig.of(16, 8, 2, 2, 1, 12, 4);

    @Test
    void axesInAnyOrderMissingOnesAreOne() {
        assertEquals(new LayoutSpec(2, 2, 2, 2), LayoutSpec.parse("--layout", "tp2,cp2,dp2,pp2"));
        assertEquals(new LayoutSpec(1, 4, 1, 2), LayoutSpec.parse("--layout", " tp2 , pp4 "));
        assertEquals(new LayoutSpec(8, 1, 1, 1), LayoutSpec.parse("--layout", "DP8"));
        assertEquals(new LayoutSpec(1, 1, 1, 1), LayoutSpec.parse("--layout", "single"));
    }

    @Test
    void writtenBackInMeshOrderWithoutAxesOfOne() {
        assertEquals("dp2,pp2,tp2", LayoutSpec.parse("--layout", "tp2,pp2,dp2,cp1").toString());
        assertEquals("single", new LayoutSpec(1, 1, 1, 1).toString());
        assertEquals("dp2,tp2", LayoutSpec.of(new Layout(2, 1, 1, 2, 1, 1, false)).toString());
    }

    @Test
    void badShorthandIsRefusedNamingTheFlagAndTheItem() {
        for (String[] bad : new String[][]{{"dp2,dp4", "twice"}, {"dp2,xx3", "'xx3'"}, {"dp0", ">= 1"}, {"dp2,", "''"}, {"", "empty"}}) {
            UserError e = assertThrows(UserError.class, () -> LayoutSpec.parse("--layout", bad[0]), bad[0]);
            assertTrue(e.getMessage().startsWith("--layout") && e.getMessage().contains(bad[1]), bad[0] + ": " + e.getMessage());
        }
    }

    @Test
    void everyReasonALayoutCannotRunIsListed() {
        // tp 3 divides neither the 2 heads, nor the 1 kv head, nor the 16 tokens (it does divide the MLP's 12);
        // batch 5 is not a multiple of dp 2.
        Layout layout = new Layout(2, 1, 1, 3, 0, 1, false);
        List<String> problems = layout.problems(SMALL, 5, 4);
        assertEquals(4, problems.size(), "the batch and three tp divisibility reasons: " + problems);
        UserError e = assertThrows(UserError.class, () -> layout.validate(SMALL, 5, 4));
        for (int i = 1; i <= 4; i++) assertTrue(e.getMessage().contains("(" + i + ") "), "numbered reason " + i + ": " + e.getMessage());
        for (String p : problems) assertTrue(e.getMessage().contains(p), "the message holds: " + p);
        assertEquals(List.of(), new Layout(2, 1, 1, 1, 0, 1, false).problems(SMALL, 4, 4), "a layout that can run");
        UserError one = assertThrows(UserError.class, () -> new Layout(3, 1, 1, 1, 0, 1, false).validate(SMALL, 4, 4));
        assertTrue(one.getMessage().startsWith("global batch 4 is not divisible"), "a single reason is the message itself: " + one.getMessage());
    }

    @Test
    void modelFlopsPerTokenAsPicotronAndTorchtitanCount() {
        // Per layer: q 8x8 + k, v 4x8 each + o 8x8 + MLP 3 x 12x8 + two norms of 8 = 496.
        // All: embedding 16x8 + 2 x 496 + final norm 8 + lm_head 16x8 = 1256; the embedding (a lookup) is no matmul.
        assertEquals(1256, SMALL.parameterCount(), "hand count of the parameters");
        double perToken = 6.0 * (1256 - 128) + 12.0 * 2 * 8 * 4;
        assertEquals(perToken, ModelFlops.perToken(SMALL, 4), 0);
        // 100 tokens in 1 ms on 2 devices of 1 GFLOP/s each: a fraction of 2e6 FLOPs.
        assertEquals(perToken * 100 / 2e6, ModelFlops.mfu(SMALL, 4, 100, 1e-3, 2, 1e9), 1e-12);
    }
}
