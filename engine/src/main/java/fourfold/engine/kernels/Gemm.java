package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.engine.tensor.Shape;
import fourfold.engine.tensor.Tensor;

import java.lang.foreign.MemorySegment;

import static fourfold.engine.kernels.GemmKernels.L;
import static fourfold.engine.kernels.GemmKernels.MR;

/**
 * Single-precision matrix multiply on one device's workers, in the three forms a Linear layer
 * needs: forward C = A·Bᵀ (nt), input gradient C = A·B (nn), weight gradient C = Aᵀ·B (tn).
 * With {@code accumulate} the product is added to C (gradient accumulation).
 * Tensors are seen as matrices: rows() x cols().
 *
 * <p>How it runs (the GotoBLAS/BLIS loop nest): C is cut into panels of NC columns and K into
 * blocks of at most KC; for each, a (kc, nc) panel of op(B) (kept in the core's share of L3) and
 * then each (mc, kc) block of op(A) (kept in L2) are packed ({@link GemmPack}), and a
 * register-tiled micro-kernel ({@link GemmKernels}) computes (MR, NR) tiles of C from them, each
 * (kc, NR) B micro-panel staying in L1 (with the 6 x 2 tile) while the A block's slivers pass it. The block sizes come
 * from the machine's cache sizes ({@link GemmBlocks}). The packing absorbs the
 * transposes, so nn, nt, tn (and tt) share one micro-kernel. Workers split C's rows (or columns,
 * when C is wide) into contiguous ranges; every C element is summed in the same k order whatever
 * the split, so results are bitwise identical for any thread count.
 */
public final class Gemm {
    private Gemm() {}

    /** Columns of a micro-tile: 2 vectors on AVX2 (16 floats), 4 on AVX-512 (64 floats). */
    static final int NR = GemmKernels.NR;
    /** The block sizes, from this machine's caches or {@code -Dfourfold.gemm.kc|mc|nc} ({@link GemmBlocks}). */
    static final GemmBlocks BLOCKS = GemmBlocks.of(CacheSizes.machine(), MR, NR);
    /** Largest K block: a (KC, NR) B micro-panel fills half of L1 (more with the 4 x 4 tile, see GemmBlocks). Results depend on it. */
    static final int KC = BLOCKS.kc();
    /** Rows of op(A) packed at once, a multiple of MR: the (MC, KC) A block stays in L2. */
    static final int MC = BLOCKS.mc();
    /** Columns of op(B) packed at once, a multiple of NR: the (KC, NC) B panel stays in the core's share of L3. */
    static final int NC = BLOCKS.nc();
    /** Below this many multiply-adds per chunk a split across workers costs more than it saves. */
    private static final long MIN_MACS_PER_TASK = 1L << 20;

    /**
     * The kernels this JVM runs, e.g. "8-lane (256-bit) vectors, 6x2 GEMM tile, K blocks of 256,
     * 510-row A blocks, 1024-column B panels (L1d 32 KiB, L2 512 KiB, L3 4 MiB per core: read from ...)".
     */
    public static String machineKernels() {
        return L + "-lane (" + GemmKernels.S.vectorBitSize() + "-bit) vectors, " + GemmKernels.TILE + " GEMM tile, "
                + BLOCKS.describe();
    }

    /** C (M,N) [+]= A (M,K) · B (K,N). */
    public static void nn(Tensor a, Tensor b, Tensor c, boolean accumulate) {
        Tensor.requireSameDevice("Gemm.nn", a, b, c);
        int m = a.rows(), k = a.cols(), n = b.cols();
        if (b.rows() != k || c.rows() != m || c.cols() != n) {
            throw mismatch("Gemm.nn", "C (M,N) = A (M,K) · B (K,N)", a, b, c,
                    "B (" + k + " x N) and C (" + m + " x " + n + ")");
        }
        requireDistinct("Gemm.nn", a, b, c);
        gemm(a.device(), false, false, m, n, k, a.segment(), 0, k, b.segment(), 0, n, c.segment(), 0, n, accumulate);
    }

    /** C (M,N) [+]= A (M,K) · Bᵀ, B is (N,K). */
    public static void nt(Tensor a, Tensor b, Tensor c, boolean accumulate) {
        Tensor.requireSameDevice("Gemm.nt", a, b, c);
        int m = a.rows(), k = a.cols(), n = b.rows();
        if (b.cols() != k || c.rows() != m || c.cols() != n) {
            throw mismatch("Gemm.nt", "C (M,N) = A (M,K) · Bᵀ, B (N,K)", a, b, c,
                    "B (N x " + k + ") and C (" + m + " x " + n + ")");
        }
        requireDistinct("Gemm.nt", a, b, c);
        gemm(a.device(), false, true, m, n, k, a.segment(), 0, k, b.segment(), 0, k, c.segment(), 0, n, accumulate);
    }

    /** C (M,N) [+]= Aᵀ · B, A is (K,M), B is (K,N). */
    public static void tn(Tensor a, Tensor b, Tensor c, boolean accumulate) {
        Tensor.requireSameDevice("Gemm.tn", a, b, c);
        int k = a.rows(), m = a.cols(), n = b.cols();
        if (b.rows() != k || c.rows() != m || c.cols() != n) {
            throw mismatch("Gemm.tn", "C (M,N) = Aᵀ · B, A (K,M), B (K,N)", a, b, c,
                    "B (" + k + " x N) and C (" + m + " x " + n + ")");
        }
        requireDistinct("Gemm.tn", a, b, c);
        gemm(a.device(), true, false, m, n, k, a.segment(), 0, m, b.segment(), 0, n, c.segment(), 0, n, accumulate);
    }

    /**
     * BLAS-style core: C[cOff..] (M,N, row stride ldc) [+]= op(A) · op(B), offsets and strides in floats.
     * op(A) is (M,K): A is stored (M, lda) or, with transA, (K, lda). op(B) is (K,N): B is stored
     * (K, ldb) or, with transB, (N, ldb).
     * C must not share memory with A or B (the Tensor forms check it; this form does not, as strided
     * windows of one buffer may interleave without overlapping).
     */
    public static void gemm(Device device, boolean transA, boolean transB, int M, int N, int K,
                            MemorySegment a, long aOff, int lda,
                            MemorySegment b, long bOff, int ldb,
                            MemorySegment c, long cOff, int ldc, boolean accumulate) {
        String op = name(transA, transB);
        if (device == null) throw new IllegalArgumentException("Gemm." + op + ": device is null");
        if (M <= 0 || N <= 0 || K <= 0) {
            throw new IllegalArgumentException("Gemm." + op + ": sizes must be positive, got M=" + M + ", N=" + N + ", K=" + K);
        }
        requireMatrix(op, "A", a, aOff, transA ? K : M, transA ? M : K, lda);
        requireMatrix(op, "B", b, bOff, transB ? N : K, transB ? K : N, ldb);
        requireMatrix(op, "C", c, cOff, M, N, ldc);
        run(device, transA, transB, M, N, K, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
        long cBytes = (long) M * N * Float.BYTES * (accumulate ? 2 : 1); // read-modify-write when accumulating
        device.recordCompute("gemm_" + op, 2.0 * M * N * K,
                ((long) M * K + (long) K * N) * Float.BYTES + cBytes);
    }

    /** Splits C across the device's workers. */
    private static void run(Device device, boolean transA, boolean transB, int M, int N, int K,
                            MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
                            MemorySegment c, long cOff, int ldc, boolean accumulate) {
        Split split = Split.of(M, N, K);
        if (split.rows() && device.threads() > 1 && split.units() >= 2 * split.minChunk()) {
            rowsSharingB(device, split, transA, transB, M, N, K, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
            return;
        }
        device.parallelFor(split.units(), split.minChunk(), (start, end) -> {
            int lo = start * split.unit();
            int hi = (int) Math.min((long) end * split.unit(), split.rows() ? M : N);
            if (split.rows()) {
                block(transA, transB, lo, hi, 0, N, K, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
            } else {
                block(transA, transB, 0, M, lo, hi, K, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
            }
        });
    }

    /**
     * C split by rows over several workers, one NC panel of C's columns at a time: the panel's
     * op(B) (all K blocks) is packed once, by all workers together, into the calling thread's
     * shared scratch, and then row chunks, several per worker and claimed dynamically, pack their
     * own A blocks and run against it. Packing B once per worker instead cost 2-5% of a training
     * step, and one chunk per worker left the faster worker waiting at the end of most GEMMs (7% of
     * the driver thread's time).
     */
    private static void rowsSharingB(Device device, Split split, boolean transA, boolean transB, int M, int N, int K,
                                     MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
                                     MemorySegment c, long cOff, int ldc, boolean accumulate) {
        int kBlocks = ceilDiv(K, KC);
        int kcMax = ceilDiv(K, kBlocks);
        int npMax = Math.min(NC, roundUp(N, NR));   // packed columns of the widest panel: whole slivers
        MemorySegment pb = GemmScratch.get().shared((long) npMax * K * Float.BYTES);
        for (int jc = 0; jc < N; jc += NC) {
            int nc = Math.min(NC, N - jc), np = roundUp(nc, NR), j = jc;
            packSharedB(device, transB, b, bOff, ldb, K, kBlocks, j, nc, np, pb);
            device.parallelFor(split.units(), split.minChunk(), CHUNKS_PER_WORKER, (start, end) -> {
                int m0 = start * MR, m1 = Math.min(end * MR, M);
                GemmScratch scratch = GemmScratch.get();
                MemorySegment pa = packedA(scratch, m1 - m0, kcMax), tile = scratch.tile();
                for (int ic = m0; ic < m1; ic += MC) {
                    int mc = Math.min(MC, m1 - ic);
                    for (int kb = 0; kb < kBlocks; kb++) {
                        int p0 = kStart(K, kb, kBlocks), kc = kStart(K, kb + 1, kBlocks) - p0;
                        boolean overwrite = !accumulate && kb == 0;
                        GemmPack.packA(transA, a, aOff, lda, ic, mc, p0, kc, pa);
                        long panel = (long) p0 * np * Float.BYTES;
                        sweep(pa, pb, panel, tile, c, cOff, ldc, ic, mc, j, nc, kc, overwrite);
                    }
                }
            });
        }
    }

    /**
     * Columns [jc, jc+nc) of op(B), all K blocks, packed by all workers into {@code pb}: K block
     * kb's (kc, np) panel starts at kStart(kb) times np floats.
     */
    private static void packSharedB(Device device, boolean transB, MemorySegment b, long bOff, int ldb, int K, int kBlocks,
                                    int jc, int nc, int np, MemorySegment pb) {
        if (transB) { // B's rows are op(B)'s columns: groups of slivers
            int groups = ceilDiv(np / NR, PACK_GROUP);
            device.parallelFor(kBlocks * groups, 1, (start, end) -> {
                for (int u = start; u < end; u++) {
                    int kb = u / groups, j0 = u % groups * PACK_GROUP * NR;
                    int p0 = kStart(K, kb, kBlocks), kc = kStart(K, kb + 1, kBlocks) - p0;
                    long dst = ((long) p0 * np + (long) j0 * kc) * Float.BYTES;
                    GemmPack.packB(true, b, bOff, ldb, p0, kc, jc + j0, Math.min(PACK_GROUP * NR, nc - j0), pb.asSlice(dst));
                }
            });
        } else { // ranges of whole rows, so that B is read front to back
            device.parallelFor(kBlocks * PACK_PIECES, 1, (start, end) -> {
                for (int u = start; u < end; u++) {
                    int kb = u / PACK_PIECES, piece = u % PACK_PIECES;
                    int p0 = kStart(K, kb, kBlocks), kc = kStart(K, kb + 1, kBlocks) - p0;
                    int k0 = (int) ((long) kc * piece / PACK_PIECES), k1 = (int) ((long) kc * (piece + 1) / PACK_PIECES);
                    if (k0 < k1) GemmPack.packRowsOfB(b, bOff, ldb, p0, kc, k0, k1, jc, nc, pb.asSlice((long) p0 * np * Float.BYTES));
                }
            });
        }
    }

    /** A transposed B is packed PACK_GROUP slivers (of 8x8 transposes) per task. */
    private static final int PACK_GROUP = 4;
    /** A non-transposed B is packed in this many ranges of whole rows per K block. */
    private static final int PACK_PIECES = 8;
    /** Row chunks per worker in {@link #rowsSharingB}: enough for a late worker to take fewer. */
    private static final int CHUNKS_PER_WORKER = 4;

    /**
     * All micro-tiles of C rows [ic, ic+mc) x columns [jc, jc+nc) from a packed A block and B panel,
     * B micro-panel by B micro-panel (BLIS's order): the (kc, NR) B micro-panel stays in L1 while
     * the A slivers, (kc, MR) each, stream past it from the A block in L2. Per multiply-add the
     * stream is 1/NR of a float from L2; the other order (A sliver outer) streams 1/MR from
     * wherever the B panel lives, which once the panel outgrew L2 was L3 (issue 15).
     */
    private static void sweep(MemorySegment pa, MemorySegment pb, long panel, MemorySegment tile, MemorySegment c,
                              long cOff, int ldc, int ic, int mc, int jc, int nc, int kc, boolean overwrite) {
        long ldcBytes = (long) ldc * Float.BYTES;
        for (int jr = 0; jr < nc; jr += NR) {
            int cols = Math.min(NR, nc - jr);
            long bo = panel + (long) jr * kc * Float.BYTES;
            for (int ir = 0; ir < mc; ir += MR) {
                int rows = Math.min(MR, mc - ir);
                long ao = (long) ir * kc * Float.BYTES;
                long co = (cOff + (long) (ic + ir) * ldc + jc + jr) * Float.BYTES;
                GemmKernels.multiply(kc, pa, ao, pb, bo, tile);
                GemmKernels.store(tile, c, co, ldcBytes, rows, cols, overwrite);
            }
        }
    }

    /**
     * How C is shared out: {@code units} slices of {@code unit} rows (or columns), at least
     * {@code minChunk} slices per worker. The longer side of C is split: each worker packs all of
     * the other operand, so the duplicated packing is the smaller one.
     */
    record Split(boolean rows, int unit, int units, int minChunk) {
        static Split of(int M, int N, int K) {
            boolean rows = M >= N;
            int unit = rows ? MR : NR;
            int units = ceilDiv(rows ? M : N, unit);
            long unitMacs = (long) unit * (rows ? N : M) * K;
            int minChunk = (int) Math.min(units, Math.max(1, ceilDiv(MIN_MACS_PER_TASK, unitMacs)));
            return new Split(rows, unit, units, minChunk);
        }
    }

    /** One worker's share: C rows [m0, m1) x columns [n0, n1), serially. */
    private static void block(boolean transA, boolean transB, int m0, int m1, int n0, int n1, int K,
                              MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
                              MemorySegment c, long cOff, int ldc, boolean accumulate) {
        // K blocks of (nearly) equal size, fixed by K alone: the k order never depends on the split.
        int kBlocks = ceilDiv(K, KC);
        int kcMax = ceilDiv(K, kBlocks);
        GemmScratch scratch = GemmScratch.get();
        MemorySegment pa = packedA(scratch, m1 - m0, kcMax), tile = scratch.tile();
        MemorySegment pb = scratch.b((long) Math.min(NC, roundUp(n1 - n0, NR)) * kcMax * Float.BYTES);
        for (int jc = n0; jc < n1; jc += NC) {
            int nc = Math.min(NC, n1 - jc);
            for (int kb = 0; kb < kBlocks; kb++) {
                int p0 = kStart(K, kb, kBlocks), kc = kStart(K, kb + 1, kBlocks) - p0;
                boolean overwrite = !accumulate && kb == 0; // the first K block replaces C's old contents
                GemmPack.packB(transB, b, bOff, ldb, p0, kc, jc, nc, pb);
                for (int ic = m0; ic < m1; ic += MC) {
                    int mc = Math.min(MC, m1 - ic);
                    GemmPack.packA(transA, a, aOff, lda, ic, mc, p0, kc, pa);
                    sweep(pa, pb, 0, tile, c, cOff, ldc, ic, mc, jc, nc, kc, overwrite);
                }
            }
        }
    }

    /** This thread's buffer for a packed block of A: up to MC of {@code rows} rows (whole slivers), kcMax deep. */
    private static MemorySegment packedA(GemmScratch scratch, int rows, int kcMax) {
        return scratch.a((long) roundUp(Math.min(MC, rows), MR) * kcMax * Float.BYTES);
    }

    /** First k of K block kb: K is cut into kBlocks blocks of (nearly) equal size, fixed by K alone. */
    private static int kStart(int K, int kb, int kBlocks) {
        return (int) ((long) K * kb / kBlocks);
    }

    private static String name(boolean transA, boolean transB) {
        return (transA ? "t" : "n") + (transB ? "t" : "n");
    }

    /** A stored (rows, ld) matrix at float offset off must fit in its segment. */
    private static void requireMatrix(String op, String which, MemorySegment s, long off, int rows, int cols, int ld) {
        if (s == null) throw new IllegalArgumentException("Gemm." + op + ": " + which + " is null");
        if (ld < cols) {
            throw new IllegalArgumentException("Gemm." + op + ": " + which + " is stored (" + rows + ", ld) with ld="
                    + ld + ", expected ld >= " + cols);
        }
        long need = off + (long) (rows - 1) * ld + cols; // floats up to the last element, inclusive
        long have = s.byteSize() / Float.BYTES;
        if (off < 0 || need > have) {
            throw new IllegalArgumentException("Gemm." + op + ": " + which + " (" + rows + " x " + cols + ", ld=" + ld
                    + ", offset " + off + ") needs " + need + " floats, its segment holds " + have);
        }
    }

    private static IllegalArgumentException mismatch(String op, String formula, Tensor a, Tensor b, Tensor c, String expected) {
        return new IllegalArgumentException(op + ": " + formula + " does not fit: A " + describe(a) + ", B " + describe(b)
                + ", C " + describe(c) + "; expected " + expected);
    }

    private static String describe(Tensor t) {
        return t.name() + Shape.str(t.shape()) + " as (" + t.rows() + " x " + t.cols() + ")";
    }

    /** C must not share memory with A or B: the kernel overwrites C while A and B are still being read. */
    private static void requireDistinct(String op, Tensor a, Tensor b, Tensor c) {
        MemorySegment cs = c.segment();
        for (Tensor t : new Tensor[] {a, b}) {
            if (cs.asOverlappingSlice(t.segment()).isPresent()) {
                throw new IllegalArgumentException(op + ": output " + c + " overlaps input " + t + "; use a separate output tensor");
            }
        }
    }

    private static int ceilDiv(int x, int y) {
        return (x + y - 1) / y;
    }

    private static long ceilDiv(long x, long y) {
        return (x + y - 1) / y;
    }

    private static int roundUp(int x, int m) {
        return ceilDiv(x, m) * m;
    }
}
