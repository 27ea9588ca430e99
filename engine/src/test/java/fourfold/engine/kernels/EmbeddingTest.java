package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.engine.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static fourfold.engine.kernels.FiniteDifferences.assertClose;
import static fourfold.engine.kernels.FiniteDifferences.randoms;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Embedding lookup (with a vocab-parallel shard offset) and its deterministic scatter-add backward. */
class EmbeddingTest {
    private static Device device;

    @BeforeAll
    static void start() {
        device = new Device(0, 16 << 20, 2);
    }

    @AfterAll
    static void stop() {
        device.close();
    }

    private static int[] tokens(long seed, int n, int vocab) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(vocab);
        return t;
    }

    /** out[n] = table[tok - start] or zeros, as a scalar loop. */
    private static float[] lookup(int[] tok, float[] table, int rows, int C, int start) {
        float[] out = new float[tok.length * C];
        for (int n = 0; n < tok.length; n++) {
            int r = tok[n] - start;
            if (r >= 0 && r < rows) System.arraycopy(table, r * C, out, n * C, C);
        }
        return out;
    }

    @Test
    void forwardGathersRowsOfTheShardAndZerosOthers() {
        int[][] sizes = {{1, 1, 1}, {7, 17, 5}, {64, 130, 40}}; // N, C, rows
        for (int[] s : sizes) {
            int N = s[0], C = s[1], rows = s[2];
            for (int start : new int[] {0, 3}) {
                int[] tok = tokens(81, N, rows + 6); // some tokens fall before or after the shard
                float[] table = randoms(82, rows * C, 1);
                float[] expected = lookup(tok, table, rows, C, start);
                try (Tensor tt = Tensor.of(device, MemoryTag.PARAMS, "wte", table, rows, C); Tensor out = Tensor.empty(device, MemoryTag.ACTIVATIONS, "x", N, C)) {
                    out.fill(Float.NaN); // zero rows must be written, not left as they were
                    Embedding.forward(tok, tt, start, out);
                    assertArrayEquals(expected, out.toArray(), "Embedding.forward N=" + N + " C=" + C + " vocabStart=" + start);
                }
            }
        }
    }

    @Test
    void backwardIsTheGradientOfTheLookup() {
        int N = 9, C = 5, rows = 4, start = 2;
        int[] tok = {2, 5, 2, 0, 3, 9, 2, 5, 4}; // repeats, and tokens outside [2, 6)
        float[] dout = randoms(91, N * C, 1);
        float[] table = randoms(92, rows * C, 1), dtable0 = randoms(93, rows * C, 1);
        // L(table) = sum(dout * lookup(table)), in double
        double[] expected = FiniteDifferences.gradient(v -> {
            double l = 0;
            for (int n = 0; n < N; n++) {
                int r = tok[n] - start;
                if (r >= 0 && r < rows) for (int c = 0; c < C; c++) l += dout[n * C + c] * v[r * C + c];
            }
            return l;
        }, FiniteDifferences.toDouble(table), 1e-3);
        for (int i = 0; i < expected.length; i++) expected[i] += dtable0[i]; // accumulated onto what dtable held
        try (Tensor td = Tensor.of(device, MemoryTag.ACTIVATIONS, "dx", dout, N, C); Tensor dt = Tensor.of(device, MemoryTag.GRADS, "dwte", dtable0, rows, C)) {
            Embedding.backward(tok, td, start, dt);
            // a token used three times: three float additions onto O(1) values
            assertClose("Embedding.backward vs finite differences", expected, dt.toArray(), 1e-6, 1e-6);
        }
    }

    @Test
    void backwardAddsTokensInOrderForEveryThreadCount() {
        int N = 1000, C = 130, rows = 50;
        int[] tok = tokens(101, N, rows);
        float[] dout = randoms(102, N * C, 1);
        float[] expected = new float[rows * C];
        for (int n = 0; n < N; n++) for (int c = 0; c < C; c++) expected[tok[n] * C + c] += dout[n * C + c];
        for (int threads : new int[] {1, 3}) {
            try (Device d = new Device(7, 4 << 20, threads); Tensor td = Tensor.of(d, MemoryTag.ACTIVATIONS, "dx", dout, N, C);
                 Tensor dt = Tensor.zeros(d, MemoryTag.GRADS, "dwte", rows, C)) {
                Embedding.backward(tok, td, 0, dt);
                assertArrayEquals(expected, dt.toArray(), "Embedding.backward on " + threads + " workers must equal the in-order scalar sum bitwise");
            }
        }
    }

    @Test
    void refusesNegativeTokensAndMismatchedShapes() {
        try (Tensor table = Tensor.zeros(device, MemoryTag.PARAMS, "wte", 10, 8); Tensor out = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "x", 3, 8);
             Tensor out7 = Tensor.zeros(device, MemoryTag.ACTIVATIONS, "x", 3, 7); Device other = new Device(4, 1 << 20, 1);
             Tensor outOther = Tensor.zeros(other, MemoryTag.ACTIVATIONS, "x", 3, 8)) {
            int[] bad = {1, -2, 3};
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Embedding.forward(bad, table, 0, out));
            assertTrue(e.getMessage().contains("Embedding.forward") && e.getMessage().contains("tokens[1] = -2"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Embedding.backward(bad, out, 0, table));
            assertTrue(e.getMessage().contains("Embedding.backward") && e.getMessage().contains("tokens[1] = -2"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Embedding.forward(new int[] {1, 2, 3}, table, 0, out7));
            assertTrue(e.getMessage().contains("(3, 7)") && e.getMessage().contains("(3, 8)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Embedding.forward(new int[] {1, 2}, table, 0, out));
            assertTrue(e.getMessage().contains("expected 2 rows of 8"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Embedding.forward(new int[] {1, 2, 3}, table, 0, outOther));
            assertTrue(e.getMessage().contains("different devices"), e.getMessage());
            float[] before = table.toArray();
            assertThrows(IllegalArgumentException.class, () -> Embedding.backward(new int[] {1, 2, 3}, out7, 0, table));
            assertTrue(Arrays.equals(before, table.toArray()), "a refused backward must leave dtable untouched");
        }
    }
}
