package fourfold.engine.pp;

import fourfold.engine.UserError;
import fourfold.engine.model.LlamaConfig;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The balanced split counts the embedding and the head; --stage-layers overrides it when it adds up. */
class StageSplitTest {
    @Test
    void equalCostsSplitEvenly() {
        assertArrayEquals(new int[]{2, 2, 2, 2}, StageSplit.balanced(8, 4, 0, 1, 0).layers(), "8 layers, 4 stages, free embedding and head");
        assertArrayEquals(new int[]{1, 1, 1, 1}, StageSplit.balanced(4, 4, 0, 1, 0).layers(), "one layer each");
        assertArrayEquals(new int[]{7}, StageSplit.balanced(7, 1, 5, 1, 5).layers(), "one stage holds everything");
    }

    @Test
    void anExpensiveHeadAndEmbeddingTakeALayerOffTheFirstAndLastStage() {
        // Llama 3 / Megatron: 10 layers on 4 stages with embedding and head each about a layer's cost.
        assertArrayEquals(new int[]{2, 3, 3, 2}, StageSplit.balanced(10, 4, 1, 1, 1).layers());
        // A head worth two layers: the last stage gets the fewest.
        int[] s = StageSplit.balanced(8, 4, 0, 1, 2).layers();
        assertEquals(8, s[0] + s[1] + s[2] + s[3], "all layers placed");
        assertTrue(s[3] < s[0], "the head's stage holds fewer layers: " + java.util.Arrays.toString(s));
    }

    @Test
    void theSplitMinimisesTheMostExpensiveStage() {
        for (int L = 1; L <= 12; L++) {
            for (int n = 1; n <= L; n++) {
                double e = 0.7, layer = 1, h = 1.3;
                StageSplit s = StageSplit.balanced(L, n, e, layer, h);
                double max = 0;
                for (int k = 0; k < n; k++) max = Math.max(max, s.layers()[k] * layer + (k == 0 ? e : 0) + (k == n - 1 ? h : 0));
                // Lower bound: the total spread evenly, and never under one layer plus the head's own cost on the last stage.
                double bound = Math.max((L * layer + e + h) / n, layer + (n == 1 ? e + h : h));
                assertTrue(max < bound + layer + 1e-9, "L=" + L + " n=" + n + ": most expensive stage " + max + " vs bound " + bound);
                assertEquals(L, s.endLayer(n - 1), "L=" + L + " n=" + n + ": every layer placed");
            }
        }
    }

    @Test
    void stageLayersOverrideAndAreChecked() {
        LlamaConfig test = LlamaConfig.preset("test"); // 4 layers
        assertArrayEquals(new int[]{1, 3}, StageSplit.of(test, 2, List.of(1, 3)).layers());
        assertEquals(1, StageSplit.of(test, 2, List.of(1, 3)).firstLayer(1));
        String sum = assertThrows(UserError.class, () -> StageSplit.of(test, 2, List.of(1, 1))).getMessage();
        assertTrue(sum.contains("--stage-layers 1,1") && sum.contains("--stage-layers 2,2"), sum);
        String count = assertThrows(UserError.class, () -> StageSplit.of(test, 3, List.of(2, 2))).getMessage();
        assertTrue(count.contains("3 counts"), count);
        String tooMany = assertThrows(UserError.class, () -> StageSplit.of(test, 5, List.of())).getMessage();
        assertTrue(tooMany.contains("= 5 stages") && tooMany.contains("<= 4"), tooMany);
    }
}
