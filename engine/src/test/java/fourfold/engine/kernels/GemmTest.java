package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.engine.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Gemm against a naive double-precision reference. Tolerance: the classic bound for a float
 * dot product of length K, |error| <= K * 2^-24 * sum_k |a_k * b_k|, doubled (plus the final add
 * into C when accumulating). A single wrong or missing term breaks it for every size tested.
 */
class GemmTest {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static Device one;
    private static Device two;

    @BeforeAll
    static void devices() {
        one = new Device(0, 64L << 20, 1);
        two = new Device(1, 64L << 20, 2);
    }

    @AfterAll
    static void close() {
        one.close();
        two.close();
    }

    /**
     * The odd sizes of the issue, micro-tile edges (6 x 16 with the 6 x 2 tile on AVX2, 4 x 64 with
     * 4 x 4 on AVX-512), K beyond one K block (K blocks are at least 256 and at most 1024 long:
     * 1100 and 2100 span several), M beyond one A block. The 4 x 4 surefire run shrinks the K
     * blocks to 100, the A blocks to 20 rows and the B panels to 64 columns, so there M, N and K
     * cross block edges in most shapes (N = 130, 257: panels of 64 and an edge sliver).
     */
    static Stream<Arguments> shapes() {
        List<Arguments> s = new ArrayList<>();
        int[][] mnk = {
                {1, 1, 1}, {1, 7, 17}, {7, 1, 33}, {17, 33, 1}, {1, 1, 257},
                {7, 17, 33}, {33, 65, 17}, {65, 33, 129}, {6, 16, 8}, {12, 32, 256}, {13, 35, 300}, {13, 67, 40},
                {129, 17, 65}, {150, 40, 7}, {17, 257, 65}, {257, 7, 3}, {13, 35, 1100}, {5, 9, 2100}, {150, 130, 230}, {41, 300, 600},
        };
        for (String v : new String[] {"nn", "nt", "tn", "tt"}) {
            for (int[] d : mnk) s.add(Arguments.of(v, d[0], d[1], d[2]));
        }
        return s.stream();
    }

    @ParameterizedTest(name = "{0} M={1} N={2} K={3}")
    @MethodSource("shapes")
    void matchesDoubleReference(String variant, int m, int n, int k) {
        boolean tA = variant.charAt(0) == 't', tB = variant.charAt(1) == 't';
        float[] a = random(m * k, 1), b = random(k * n, 2);
        for (boolean accumulate : new boolean[] {false, true}) {
            float[] c0 = accumulate ? random(m * n, 3) : nans(m * n); // garbage must be overwritten, never read
            float[] got = runRaw(one, tA, tB, m, n, k, a, b, c0, accumulate);
            assertClose(variant + (accumulate ? " accumulate" : " overwrite"), tA, tB, m, n, k, a, b, c0, accumulate, got);
        }
    }

    @Test
    void tensorFormsFlattenLeadingDimsAndMatchRawCall() {
        // x (B=2, T=3, C=5) meets W (4, 5): y = x · Wᵀ (nt), dx = dy · W (nn), dW = dyᵀ · x (tn).
        float[] x = random(30, 7), w = random(20, 8), dy = random(24, 9);
        try (Tensor tx = Tensor.of(one, MemoryTag.ACTIVATIONS, "x", x, 2, 3, 5);
             Tensor tw = Tensor.of(one, MemoryTag.PARAMS, "w", w, 4, 5);
             Tensor tdy = Tensor.of(one, MemoryTag.ACTIVATIONS, "dy", dy, 2, 3, 4);
             Tensor y = Tensor.empty(one, MemoryTag.ACTIVATIONS, "y", 2, 3, 4);
             Tensor dx = Tensor.empty(one, MemoryTag.ACTIVATIONS, "dx", 2, 3, 5);
             Tensor dw = Tensor.empty(one, MemoryTag.GRADS, "dw", 4, 5)) {
            Gemm.nt(tx, tw, y, false);
            assertClose("nt", false, true, 6, 4, 5, x, w, new float[24], false, y.toArray());
            Gemm.nn(tdy, tw, dx, false);
            assertClose("nn", false, false, 6, 5, 4, dy, w, new float[30], false, dx.toArray());
            Gemm.tn(tdy, tx, dw, false);
            assertClose("tn", true, false, 4, 5, 6, dy, x, new float[20], false, dw.toArray());
            float[] before = dw.toArray();
            Gemm.tn(tdy, tx, dw, true); // gradient accumulation: dW += dyᵀ · x
            assertClose("tn accumulate", true, false, 4, 5, 6, dy, x, before, true, dw.toArray());
        }
    }

    @Test
    void stridedRawCallTouchesOnlyItsWindow() {
        // Sub-matrices inside larger buffers: ld > width, non-zero offsets; everything else is a sentinel.
        int m = 19, n = 23, k = 37, lda = 50, ldb = 41, ldc = 30;
        long aOff = 3, bOff = 11, cOff = 7;
        for (String v : new String[] {"nn", "nt", "tn", "tt"}) {
            boolean tA = v.charAt(0) == 't', tB = v.charAt(1) == 't';
            int aRows = tA ? k : m, aCols = tA ? m : k, bRows = tB ? n : k, bCols = tB ? k : n;
            float[] a = random(m * k, 10), b = random(k * n, 11), c0 = random(m * n, 12);
            float sentinel = -12345.5f;
            try (Tensor ta = Tensor.zeros(one, MemoryTag.ACTIVATIONS, "A", (int) aOff + aRows * lda);
                 Tensor tb = Tensor.zeros(one, MemoryTag.ACTIVATIONS, "B", (int) bOff + bRows * ldb);
                 Tensor tc = Tensor.zeros(one, MemoryTag.ACTIVATIONS, "C", (int) cOff + m * ldc + 5)) {
                tc.fill(sentinel);
                for (int i = 0; i < aRows; i++) for (int j = 0; j < aCols; j++) ta.set(aOff + (long) i * lda + j, a[i * aCols + j]);
                for (int i = 0; i < bRows; i++) for (int j = 0; j < bCols; j++) tb.set(bOff + (long) i * ldb + j, b[i * bCols + j]);
                for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) tc.set(cOff + (long) i * ldc + j, c0[i * n + j]);
                Gemm.gemm(one, tA, tB, m, n, k, ta.segment(), aOff, lda, tb.segment(), bOff, ldb, tc.segment(), cOff, ldc, true);
                float[] got = new float[m * n];
                for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) got[i * n + j] = tc.get(cOff + (long) i * ldc + j);
                assertClose(v + " strided", tA, tB, m, n, k, a, b, c0, true, got);
                for (long e = 0; e < tc.numel(); e++) {
                    long rel = e - cOff;
                    boolean inside = rel >= 0 && rel / ldc < m && rel % ldc < n;
                    if (!inside) assertEquals(sentinel, tc.get(e), v + ": element " + e + " of C lies outside the (M, N) window and must be untouched");
                }
            }
        }
    }

    @Test
    void resultIsBitwiseIdenticalForOneAndTwoWorkers() {
        // Tall C (split by rows: each B panel packed once for both workers, in groups of 4 slivers;
        // with the 6 x 2 tile on AVX2 the second shape has 3 groups, the last one with an edge
        // sliver) and wide C (split by columns), K spanning several K blocks. In the 4 x 4 surefire
        // run (B panels of 64 columns) the second and third shapes span several panels, the second
        // with a narrower last one. Every shape splits with either tile.
        int[][] mnk = {{150, 60, 1100}, {200, 150, 1300}, {12, 1100, 1030}};
        for (int[] d : mnk) {
            int m = d[0], n = d[1], k = d[2];
            Gemm.Split split = Gemm.Split.of(m, n, k);
            assertTrue(split.units() / split.minChunk() >= 2, "M=" + m + " N=" + n + " K=" + k + " must really be split: " + split);
            assertEquals(m >= n, split.rows(), "tall C splits rows, wide C splits columns");
            float[] a = random(m * k, 13), b = random(k * n, 14), c0 = random(m * n, 15);
            for (String v : new String[] {"nn", "nt", "tn"}) {
                boolean tA = v.charAt(0) == 't', tB = v.charAt(1) == 't';
                for (boolean accumulate : new boolean[] {false, true}) {
                    float[] c1 = runRaw(one, tA, tB, m, n, k, a, b, c0, accumulate);
                    float[] c2 = runRaw(two, tA, tB, m, n, k, a, b, c0, accumulate);
                    for (int i = 0; i < c1.length; i++) {
                        if (Float.floatToRawIntBits(c1[i]) != Float.floatToRawIntBits(c2[i])) {
                            fail(v + " M=" + m + " N=" + n + " K=" + k + " accumulate=" + accumulate + ": C[" + i / n + "][" + i % n
                                    + "] is " + c1[i] + " with 1 worker but " + c2[i] + " with 2");
                        }
                    }
                }
            }
        }
    }

    @Test
    void reportsItsCostToTheSimulatedClock() {
        List<String> seen = new ArrayList<>();
        one.setKernelListener((d, name, start, seconds, flops, bytes) -> seen.add(name + " " + (long) flops));
        try (Tensor a = Tensor.zeros(one, MemoryTag.ACTIVATIONS, "a", 3, 4);
             Tensor b = Tensor.zeros(one, MemoryTag.PARAMS, "b", 5, 4);
             Tensor c = Tensor.zeros(one, MemoryTag.ACTIVATIONS, "c", 3, 5)) {
            double t0 = one.clock().now();
            Gemm.nt(a, b, c, false);
            assertEquals(List.of("gemm_nt " + 2 * 3 * 5 * 4), seen, "one compute record named after the variant, 2*M*N*K flops");
            assertTrue(one.clock().now() > t0, "the simulated clock advances");
        } finally {
            one.setKernelListener(null);
        }
    }

    @Test
    void refusesShapesThatDoNotFit() {
        try (Tensor a = Tensor.zeros(one, MemoryTag.ACTIVATIONS, "x", 6, 4);
             Tensor w = Tensor.zeros(one, MemoryTag.PARAMS, "w", 5, 3);
             Tensor c = Tensor.zeros(one, MemoryTag.ACTIVATIONS, "y", 6, 5)) {
            String msg = assertThrows(IllegalArgumentException.class, () -> Gemm.nt(a, w, c, false)).getMessage();
            assertTrue(msg.contains("Gemm.nt") && msg.contains("x(6, 4)") && msg.contains("w(5, 3)") && msg.contains("expected B (N x 4)"), msg);
            msg = assertThrows(IllegalArgumentException.class, () -> Gemm.nn(a, w, c, false)).getMessage();
            assertTrue(msg.contains("Gemm.nn") && msg.contains("expected B (4 x N)"), msg);
            msg = assertThrows(IllegalArgumentException.class, () -> Gemm.tn(a, w, c, false)).getMessage();
            assertTrue(msg.contains("Gemm.tn") && msg.contains("expected B (6 x N)"), msg);
        }
        try (Tensor a = Tensor.zeros(one, MemoryTag.ACTIVATIONS, "x", 6, 4);
             Tensor w = Tensor.zeros(one, MemoryTag.PARAMS, "w", 4, 5);
             Tensor c = Tensor.zeros(one, MemoryTag.ACTIVATIONS, "y", 6, 4)) {
            String msg = assertThrows(IllegalArgumentException.class, () -> Gemm.nn(a, w, c, false)).getMessage();
            assertTrue(msg.contains("y(6, 4)") && msg.contains("C (6 x 5)"), msg);
        }
    }

    @Test
    void refusesTensorsOnTwoDevices() {
        try (Tensor a = Tensor.zeros(one, MemoryTag.ACTIVATIONS, "x", 2, 3);
             Tensor b = Tensor.zeros(two, MemoryTag.PARAMS, "w", 4, 3);
             Tensor c = Tensor.zeros(one, MemoryTag.ACTIVATIONS, "y", 2, 4)) {
            String msg = assertThrows(IllegalArgumentException.class, () -> Gemm.nt(a, b, c, false)).getMessage();
            assertTrue(msg.contains("Gemm.nt") && msg.contains("different devices") && msg.contains("GPU 1"), msg);
        }
    }

    @Test
    void refusesAnOutputThatOverlapsAnInput() {
        try (Tensor a = Tensor.zeros(one, MemoryTag.ACTIVATIONS, "x", 4, 4);
             Tensor b = Tensor.zeros(one, MemoryTag.PARAMS, "w", 4, 4)) {
            String msg = assertThrows(IllegalArgumentException.class, () -> Gemm.nn(a, b, a.view(16).view(4, 4), false)).getMessage();
            assertTrue(msg.contains("Gemm.nn") && msg.contains("overlaps"), msg);
        }
    }

    @Test
    void rawCallRefusesBadSizesStridesAndShortSegments() {
        try (Tensor t = Tensor.zeros(one, MemoryTag.ACTIVATIONS, "buf", 100)) {
            MemorySegment s = t.segment();
            String msg = assertThrows(IllegalArgumentException.class,
                    () -> Gemm.gemm(one, false, false, 0, 2, 2, s, 0, 2, s, 0, 2, s, 0, 2, false)).getMessage();
            assertTrue(msg.contains("Gemm.nn") && msg.contains("M=0"), msg);
            msg = assertThrows(IllegalArgumentException.class,
                    () -> Gemm.gemm(one, false, true, 2, 3, 4, s, 0, 3, s, 0, 4, s, 0, 3, false)).getMessage();
            assertTrue(msg.contains("Gemm.nt") && msg.contains("A is stored") && msg.contains("ld >= 4"), msg);
            msg = assertThrows(IllegalArgumentException.class,
                    () -> Gemm.gemm(one, true, false, 5, 5, 5, s, 90, 5, s, 0, 5, s, 0, 5, false)).getMessage();
            assertTrue(msg.contains("Gemm.tn") && msg.contains("A (5 x 5") && msg.contains("holds 100"), msg);
            msg = assertThrows(IllegalArgumentException.class,
                    () -> Gemm.gemm(one, false, false, 2, 2, 2, s, -1, 2, s, 0, 2, s, 0, 2, false)).getMessage();
            assertTrue(msg.contains("offset -1"), msg);
        }
    }

    // ---- helpers ----

    /** Runs one raw gemm on {@code device} over dense buffers and returns C. */
    private static float[] runRaw(Device device, boolean tA, boolean tB, int m, int n, int k,
                                  float[] a, float[] b, float[] c0, boolean accumulate) {
        try (Tensor ta = Tensor.of(device, MemoryTag.ACTIVATIONS, "A", a, a.length);
             Tensor tb = Tensor.of(device, MemoryTag.ACTIVATIONS, "B", b, b.length);
             Tensor tc = Tensor.of(device, MemoryTag.ACTIVATIONS, "C", c0, c0.length)) {
            Gemm.gemm(device, tA, tB, m, n, k, ta.segment(), 0, tA ? m : k, tb.segment(), 0, tB ? k : n,
                    tc.segment(), 0, n, accumulate);
            return tc.toArray();
        }
    }

    /** got (M,N) == [c0 +] op(A)·op(B) within the float dot-product error bound. */
    private static void assertClose(String what, boolean tA, boolean tB, int m, int n, int k,
                                    float[] a, float[] b, float[] c0, boolean accumulate, float[] got) {
        double u = Math.scalb(1.0, -24);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double ref = accumulate ? c0[i * n + j] : 0, mag = Math.abs(ref);
                for (int p = 0; p < k; p++) {
                    double prod = (double) a[tA ? p * m + i : i * k + p] * b[tB ? j * k + p : p * n + j];
                    ref += prod;
                    mag += Math.abs(prod);
                }
                double tol = 2 * (k + 1) * u * mag + Double.MIN_NORMAL;
                double g = got[i * n + j];
                if (!(Math.abs(g - ref) <= tol)) {
                    fail(what + " M=" + m + " N=" + n + " K=" + k + ": C[" + i + "][" + j + "] = " + g + ", reference " + ref
                            + ", |error| " + Math.abs(g - ref) + " > tolerance " + tol);
                }
            }
        }
    }

    private static float[] random(int size, long seed) {
        Random r = new Random(seed);
        float[] x = new float[size];
        for (int i = 0; i < size; i++) x[i] = r.nextFloat() * 2 - 1;
        return x;
    }

    private static float[] nans(int size) {
        float[] x = new float[size];
        java.util.Arrays.fill(x, Float.NaN);
        return x;
    }
}
