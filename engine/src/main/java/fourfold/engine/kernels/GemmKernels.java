package fourfold.engine.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The register-tiled micro-kernels of {@link Gemm}: one (MR, NR) tile of C from a packed A sliver
 * (kc, MR) and a packed B sliver (kc, NR), as rank-1 updates: per k, NV vector loads of B, MR
 * broadcasts of A and MR*NV fused multiply-adds into accumulators that stay in registers.
 *
 * <p>Two tiles, picked by the vector registers the machine has ({@link #TILE}): 6 rows x 2 vectors
 * for AVX2 (12 accumulators plus 2 B vectors and 1-2 broadcasts fit its 16 registers; 6 x 16
 * floats) and 4 rows x 4 vectors for AVX-512 (16 of its 32 registers; 4 x 64 floats). The bodies
 * are written out in full on purpose: vectors must stay in one method and in local variables for
 * C2 to keep them in registers, and every offset must be a loop-invariant base plus k times a
 * constant, or C2 leaves a bounds check per load in the loop.
 *
 * <p>C2's code for this loop is fragile. Measured on AVX2 (Zen 3), in the compiled loop: this form
 * gives 37 instructions per 12 FMAs and no spills. Strides passed as parameters gave 66
 * instructions (about 60% of the speed); A packed row-major (rows KC apart) made C2 hoist four
 * broadcasts and spill two accumulators to the stack (about half the speed), and so did a 32-byte
 * k stride for A; unrolling k by 2 by hand spilled badly. A spilled accumulator puts a store/load
 * round trip into its FMA chain.
 *
 * <p>Every C element is summed as acc = fma(a[k], b[k], acc) over k in order from 0, then stored
 * (overwrite) or added to C once. Edge tiles run the same arithmetic on zero-padded slivers, so an
 * element's value never depends on which tile, and so which thread, computed it.
 * The product goes through a per-thread scratch tile (L1-resident, 768 or 1024 bytes), which costs
 * one vector store and load per kc multiply-adds per element and keeps the loop's compiled code stable.
 */
final class GemmKernels {
    private GemmKernels() {}

    static final VectorSpecies<Float> S = KernelSupport.FLOATS;
    static final int L = S.length();
    /** Bytes in one vector. */
    private static final long VB = (long) L * Float.BYTES;
    private static final ByteOrder NO = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /**
     * The micro-tile, rows x vectors: 6 x 2 for 16 vector registers (AVX2: 12 accumulators), 4 x 4
     * for 32 (AVX-512: 16 accumulators, 4 x 64 floats). Measured on a 16-core Xeon with AVX-512
     * against OpenBLAS's SkylakeX kernel at 1024^3 (docs/BENCHMARKS.md): 6 x 2 reached 0.58 of it,
     * 6 x 4 (24 accumulators) 0.69, 4 x 4 0.82. {@code -Dfourfold.gemm.tile=6x2|4x4} overrides the
     * choice (the tests run both kernels on any machine that way; 4 x 4 on AVX2 is correct, only slower).
     */
    static final String TILE = System.getProperty("fourfold.gemm.tile", L >= 16 ? "4x4" : "6x2");
    /** Rows of a micro-tile (A elements broadcast per k). */
    static final int MR = TILE.equals("4x4") ? 4 : 6;
    /** Vectors per micro-tile row. */
    static final int NV = MR == 4 ? 4 : 2;
    /** Columns of a micro-tile. */
    static final int NR = NV * L;

    static {
        if (!TILE.equals("4x4") && !TILE.equals("6x2")) {
            throw KernelSupport.badOption("fourfold.gemm.tile", "6x2 or 4x4", TILE);
        }
    }

    /** The (MR, NR) product of an A sliver and a B sliver into {@code tile}, by the kernel of {@link #TILE}. */
    static void multiply(int kc, MemorySegment pa, long aOff, MemorySegment pb, long bOff, MemorySegment tile) {
        if (MR == 4) multiply4x4(kc, pa, aOff, pb, bOff, tile);
        else multiply6x2(kc, pa, aOff, pb, bOff, tile);
    }

    /**
     * The (6, 2L) product of an A sliver (kc, 6) at aOff and a B sliver (kc, 2L) at bOff (offsets
     * in bytes), written to {@code tile} (row stride 2L floats). It does nothing else on purpose:
     * no branch and no live value beyond the loop's own, so C2 compiles it the same way whatever
     * shapes ran first. When the C update lived in the same method, C2 recompiled it as new edge
     * and accumulate paths showed up, and one JVM in three or four kept a loop that ran at half
     * speed (measured: 3,200 against 7,200-8,300 training tokens/s in the same interleaved run).
     */
    static void multiply6x2(int kc, MemorySegment pa, long aOff, MemorySegment pb, long bOff, MemorySegment tile) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        // Every address is a hoisted base + k * constant, so C2 lifts all bounds checks out of the loop.
        long a0 = aOff, a1 = aOff + 4, a2 = aOff + 8, a3 = aOff + 12, a4 = aOff + 16, a5 = aOff + 20;
        long b0 = bOff, b1 = bOff + VB;
        for (int k = 0; k < kc; k++) {
            long ka = (long) k * 24;
            long kb = (long) k * 2 * VB;
            FloatVector y0 = FloatVector.fromMemorySegment(S, pb, b0 + kb, NO);
            FloatVector y1 = FloatVector.fromMemorySegment(S, pb, b1 + kb, NO);
            FloatVector x;
            x = FloatVector.broadcast(S, pa.get(F, a0 + ka));
            c00 = x.fma(y0, c00); c01 = x.fma(y1, c01);
            x = FloatVector.broadcast(S, pa.get(F, a1 + ka));
            c10 = x.fma(y0, c10); c11 = x.fma(y1, c11);
            x = FloatVector.broadcast(S, pa.get(F, a2 + ka));
            c20 = x.fma(y0, c20); c21 = x.fma(y1, c21);
            x = FloatVector.broadcast(S, pa.get(F, a3 + ka));
            c30 = x.fma(y0, c30); c31 = x.fma(y1, c31);
            x = FloatVector.broadcast(S, pa.get(F, a4 + ka));
            c40 = x.fma(y0, c40); c41 = x.fma(y1, c41);
            x = FloatVector.broadcast(S, pa.get(F, a5 + ka));
            c50 = x.fma(y0, c50); c51 = x.fma(y1, c51);
        }
        c00.intoMemorySegment(tile, 0, NO);
        c01.intoMemorySegment(tile, VB, NO);
        c10.intoMemorySegment(tile, 2 * VB, NO);
        c11.intoMemorySegment(tile, 3 * VB, NO);
        c20.intoMemorySegment(tile, 4 * VB, NO);
        c21.intoMemorySegment(tile, 5 * VB, NO);
        c30.intoMemorySegment(tile, 6 * VB, NO);
        c31.intoMemorySegment(tile, 7 * VB, NO);
        c40.intoMemorySegment(tile, 8 * VB, NO);
        c41.intoMemorySegment(tile, 9 * VB, NO);
        c50.intoMemorySegment(tile, 10 * VB, NO);
        c51.intoMemorySegment(tile, 11 * VB, NO);
    }

    /**
     * The (4, 4L) product for 32 vector registers (AVX-512): 16 accumulators, 4 B vectors and a
     * broadcast; per k 4 loads, 4 broadcasts and 16 FMAs, written as {@link #multiply6x2} is.
     */
    static void multiply4x4(int kc, MemorySegment pa, long aOff, MemorySegment pb, long bOff, MemorySegment tile) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z, c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
        long a0 = aOff, a1 = aOff + 4, a2 = aOff + 8, a3 = aOff + 12;
        long b0 = bOff, b1 = bOff + VB, b2 = bOff + 2 * VB, b3 = bOff + 3 * VB;
        for (int k = 0; k < kc; k++) {
            long ka = (long) k * 16;
            long kb = (long) k * 4 * VB;
            FloatVector y0 = FloatVector.fromMemorySegment(S, pb, b0 + kb, NO);
            FloatVector y1 = FloatVector.fromMemorySegment(S, pb, b1 + kb, NO);
            FloatVector y2 = FloatVector.fromMemorySegment(S, pb, b2 + kb, NO);
            FloatVector y3 = FloatVector.fromMemorySegment(S, pb, b3 + kb, NO);
            FloatVector x;
            x = FloatVector.broadcast(S, pa.get(F, a0 + ka));
            c00 = x.fma(y0, c00); c01 = x.fma(y1, c01); c02 = x.fma(y2, c02); c03 = x.fma(y3, c03);
            x = FloatVector.broadcast(S, pa.get(F, a1 + ka));
            c10 = x.fma(y0, c10); c11 = x.fma(y1, c11); c12 = x.fma(y2, c12); c13 = x.fma(y3, c13);
            x = FloatVector.broadcast(S, pa.get(F, a2 + ka));
            c20 = x.fma(y0, c20); c21 = x.fma(y1, c21); c22 = x.fma(y2, c22); c23 = x.fma(y3, c23);
            x = FloatVector.broadcast(S, pa.get(F, a3 + ka));
            c30 = x.fma(y0, c30); c31 = x.fma(y1, c31); c32 = x.fma(y2, c32); c33 = x.fma(y3, c33);
        }
        c00.intoMemorySegment(tile, 0 * VB, NO); c01.intoMemorySegment(tile, 1 * VB, NO); c02.intoMemorySegment(tile, 2 * VB, NO); c03.intoMemorySegment(tile, 3 * VB, NO);
        c10.intoMemorySegment(tile, 4 * VB, NO); c11.intoMemorySegment(tile, 5 * VB, NO); c12.intoMemorySegment(tile, 6 * VB, NO); c13.intoMemorySegment(tile, 7 * VB, NO);
        c20.intoMemorySegment(tile, 8 * VB, NO); c21.intoMemorySegment(tile, 9 * VB, NO); c22.intoMemorySegment(tile, 10 * VB, NO); c23.intoMemorySegment(tile, 11 * VB, NO);
        c30.intoMemorySegment(tile, 12 * VB, NO); c31.intoMemorySegment(tile, 13 * VB, NO); c32.intoMemorySegment(tile, 14 * VB, NO); c33.intoMemorySegment(tile, 15 * VB, NO);
    }

    /**
     * C (MR, NR) tile at cOff [+]= the tile left by {@link #multiply}. {@code rows} x {@code cols}
     * is the part of the tile inside C (less at C's edges); {@code overwrite} stores instead of adding.
     */
    static void store(MemorySegment tile, MemorySegment c, long cOff, long ldcBytes, int rows, int cols, boolean overwrite) {
        if (rows != MR || cols != NR) {
            mergeTile(tile, NR, c, cOff, ldcBytes, rows, cols, overwrite);
            return;
        }
        for (int r = 0; r < MR; r++) {
            long t = r * NV * VB, o = cOff + r * ldcBytes;
            for (int v = 0; v < NV; v++) {
                FloatVector x = FloatVector.fromMemorySegment(S, tile, t + v * VB, NO);
                if (!overwrite) x = x.add(FloatVector.fromMemorySegment(S, c, o + v * VB, NO));
                x.intoMemorySegment(c, o + v * VB, NO);
            }
        }
    }

    /** Writes the valid (rows, cols) corner of a scratch tile (row stride nr floats) into C. */
    private static void mergeTile(MemorySegment tile, int nr, MemorySegment c, long cOff, long ldcBytes,
                                  int rows, int cols, boolean overwrite) {
        for (int r = 0; r < rows; r++) {
            long t = (long) r * nr * Float.BYTES;
            long o = cOff + r * ldcBytes;
            for (int j = 0; j < cols; j++) {
                float v = tile.get(F, t + (long) j * Float.BYTES);
                long at = o + (long) j * Float.BYTES;
                c.set(F, at, overwrite ? v : c.get(F, at) + v);
            }
        }
    }
}
