package fourfold.engine.data;

import fourfold.engine.UserError;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BatchSamplerTest {
    /** Data whose byte i is a recognisable function of i (i mod 251, a prime, so windows differ). */
    private static TokenSpan data(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) (i % 251);
        return TokenSpan.of("synthetic", b);
    }

    /** Reference: row b of a batch is bytes [start, start+T) as inputs and [start+1, start+T+1) as targets. */
    private static void assertWindow(TokenSpan d, Batch batch, int b, int start, String msg) {
        int T = batch.T();
        for (int t = 0; t < T; t++) {
            assertEquals(d.token(start + t), batch.inputs()[b * T + t], msg + ": input " + t);
            assertEquals(d.token(start + t + 1), batch.targets()[b * T + t], msg + ": target " + t);
        }
    }

    @Test
    void sequentialStepUsesWindowsSBToSBPlusBMinusOneAtByteOffsetsIT() {
        TokenSpan d = data(10_000);
        int B = 3, T = 16;
        BatchSampler s = BatchSampler.sequential(d, B, T);
        for (int step = 0; step < 5; step++) {
            Batch batch = s.batch(step);
            assertEquals(B, batch.B());
            assertEquals(T, batch.T());
            for (int b = 0; b < B; b++) {
                int window = step * B + b;
                assertWindow(d, batch, b, window * T, "step " + step + " row " + b + " = window " + window);
            }
        }
        assertArrayEquals(new int[] {2 * 3 * 16, 7 * 16, 8 * 16}, s.windowStarts(2), "byte offsets of step 2");
    }

    @Test
    void sequentialWrapsAroundTheWindowCount() {
        // n = 5*T + 1 holds exactly 5 windows; B = 3 so step 1 uses windows 3, 4, 0 and step 2 uses 1, 2, 3.
        int T = 4;
        TokenSpan d = data(5 * T + 1);
        assertEquals(5, d.windowCount(T));
        BatchSampler s = BatchSampler.sequential(d, 3, T);
        assertArrayEquals(new int[] {3 * T, 4 * T, 0}, s.windowStarts(1));
        assertArrayEquals(new int[] {T, 2 * T, 3 * T}, s.windowStarts(2));
        assertWindow(d, s.batch(1), 1, 4 * T, "last window reaches the last byte");
        assertEquals(s.batch(0), s.batch(5), "the cycle repeats after W*B/gcd windows (15 = 5 steps)");
    }

    @Test
    void randomIsAFunctionOfSeedAndStepOnly() {
        TokenSpan d = data(50_000);
        BatchSampler a = BatchSampler.random(d, 4, 32, 1234);
        BatchSampler b = BatchSampler.random(d, 4, 32, 1234);
        Batch a7 = a.batch(7);
        for (int step = 0; step < 7; step++) b.batch(step);
        assertEquals(a7, b.batch(7), "same seed, same step -> same batch, whatever was drawn before");
        assertEquals(a7, a.batch(7), "drawing again gives the same batch (no hidden state)");
        assertNotEquals(a.batch(7), a.batch(8), "neighbouring steps differ");
        assertNotEquals(a7, BatchSampler.random(d, 4, 32, 1235).batch(7), "another seed gives another batch");
        for (int step = 0; step < 20; step++) {
            Batch batch = a.batch(step);
            int[] starts = a.windowStarts(step);
            for (int r = 0; r < 4; r++) assertWindow(d, batch, r, starts[r], "random step " + step + " row " + r);
        }
    }

    @Test
    void randomRowsDoNotDependOnBatchSizeSoRanksCanSliceTheGlobalBatch() {
        TokenSpan d = data(50_000);
        Batch big = BatchSampler.random(d, 8, 16, 99).batch(3);
        Batch small = BatchSampler.random(d, 4, 16, 99).batch(3);
        assertEquals(small, big.rows(0, 4), "the first rows of a bigger batch are the smaller batch");
    }

    @Test
    void randomStartsCoverExactlyZeroToNMinusTMinusOne() {
        int T = 4, n = 10; // starts 0..5 so that start+T+1 <= n
        BatchSampler s = BatchSampler.random(data(n), 16, T, 5);
        boolean[] seen = new boolean[n];
        for (int step = 0; step < 50; step++) {
            for (int start : s.windowStarts(step)) {
                assertTrue(start >= 0 && start <= n - T - 1, "start " + start + " out of range");
                seen[start] = true;
            }
        }
        boolean[] expected = {true, true, true, true, true, true, false, false, false, false};
        assertArrayEquals(expected, seen, "every legal start is drawn in 800 draws: " + Arrays.toString(seen));
    }

    @Test
    void batchRowsSlicesRowsAndRefusesBadRanges() {
        Batch b = BatchSampler.sequential(data(1000), 4, 8).batch(0);
        Batch mid = b.rows(1, 2);
        assertEquals(2, mid.B());
        assertArrayEquals(Arrays.copyOfRange(b.inputs(), 8, 24), mid.inputs());
        assertArrayEquals(Arrays.copyOfRange(b.targets(), 8, 24), mid.targets());
        assertEquals(32, b.tokens());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.rows(3, 2));
        assertTrue(e.getMessage().contains("[3, 5)") && e.getMessage().contains("B=4"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Batch(new int[6], new int[6], 2, 4), "B*T mismatch");
    }

    @Test
    void samplingNamesParseAndUnknownOnesAreUserErrors() {
        assertEquals(Sampling.RANDOM, Sampling.parse("random"));
        assertEquals(Sampling.SEQUENTIAL, Sampling.parse("sequential"));
        UserError e = assertThrows(UserError.class, () -> Sampling.parse("shuffled"));
        assertTrue(e.getMessage().contains("shuffled") && e.getMessage().contains("sequential"), e.getMessage());
    }
}
