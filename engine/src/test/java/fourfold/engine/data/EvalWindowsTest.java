package fourfold.engine.data;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class EvalWindowsTest {
    private static TokenSpan data(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) (i % 253);
        return TokenSpan.of("eval-data", b);
    }

    @Test
    void windowCountIsFloorOfNMinusOneOverT() {
        int T = 8;
        // n = k*T + 1 bytes hold exactly k windows; one byte fewer loses the last one.
        assertEquals(1, new EvalWindows(data(9), T, 4).count());
        assertEquals(3, new EvalWindows(data(25), T, 4).count());
        assertEquals(2, new EvalWindows(data(24), T, 4).count());
        assertEquals(3, new EvalWindows(data(32), T, 4).count());
        assertEquals(4, new EvalWindows(data(33), T, 4).count());
        assertEquals((1_115_394 - 1) / 64, new EvalWindows(TextDataset.embedded().all(), 64, 12).count(), "embedded corpus, T=64");
    }

    @Test
    void iteratesEveryWindowInOrderInBatchesWithAShortLastOne() {
        int T = 5, n = 7 * T + 3; // 7 windows
        TokenSpan d = data(n);
        EvalWindows w = new EvalWindows(d, T, 3);
        assertEquals(7, w.count());
        assertEquals(35, w.tokens());
        assertEquals(3, w.batchCount());
        int window = 0, batches = 0;
        int[] rowsPerBatch = {3, 3, 1};
        for (Batch b : w) {
            assertEquals(rowsPerBatch[batches], b.B(), "rows of batch " + batches);
            for (int r = 0; r < b.B(); r++, window++) {
                for (int t = 0; t < T; t++) {
                    assertEquals(d.token(window * T + t), b.inputs()[r * T + t], "window " + window + " input " + t);
                    assertEquals(d.token(window * T + t + 1), b.targets()[r * T + t], "window " + window + " target " + t);
                }
            }
            batches++;
        }
        assertEquals(7, window, "all windows visited");
        assertEquals(3, batches);
    }
}
