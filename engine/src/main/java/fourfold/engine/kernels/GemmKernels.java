package fourfold.engine.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The register-tiled micro-kernel of {@link Gemm}: one (MR, 2L) tile of C from a packed A sliver
 * (kc, MR) and a packed B sliver (kc, 2L), as rank-1 updates: per k, 2 vector loads of B, MR
 * broadcasts of A and 2*MR fused multiply-adds into accumulators that stay in registers.
 *
 * <p>The tile is 6 rows x 2 vectors: 12 accumulators plus 2 B vectors and 1-2 broadcasts fit the
 * 16 vector registers of AVX2 (6 x 16 floats); with AVX-512 (16 lanes, 32 registers) the same code
 * is a 6 x 32 tile with room to spare. A 6 x 4-vector tile for AVX-512 was written and passed the
 * tests, but no AVX-512 machine was at hand to measure it and C2 hoisting broadcasts could spill
 * its 24 accumulators, so it was dropped. The body is written out in full on purpose: vectors must
 * stay in one method and in local variables for C2 to keep them in registers, and every offset
 * must be a loop-invariant base plus k times a constant, or C2 leaves a bounds check per load in
 * the loop.
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
 * The product goes through a per-thread scratch tile (L1-resident, 768 bytes), which costs 12
 * vector stores and loads per kc multiply-adds per element and keeps the loop's compiled code stable.
 */
final class GemmKernels {
    private GemmKernels() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** Bytes in one vector. */
    private static final long VB = (long) L * Float.BYTES;
    private static final ByteOrder NO = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /** Rows of a micro-tile (A elements broadcast per k). */
    static final int MR = 6;

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
     * C (6, 2L) tile at cOff [+]= the tile left by {@link #multiply6x2}. {@code rows} x {@code cols}
     * is the part of the tile inside C (less at C's edges); {@code overwrite} stores instead of adding.
     */
    static void store6x2(MemorySegment tile, MemorySegment c, long cOff, long ldcBytes, int rows, int cols, boolean overwrite) {
        if (rows != MR || cols != 2 * L) {
            mergeTile(tile, 2 * L, c, cOff, ldcBytes, rows, cols, overwrite);
            return;
        }
        for (int r = 0; r < MR; r++) {
            long t = r * 2 * VB, o = cOff + r * ldcBytes;
            FloatVector v0 = FloatVector.fromMemorySegment(S, tile, t, NO);
            FloatVector v1 = FloatVector.fromMemorySegment(S, tile, t + VB, NO);
            if (!overwrite) {
                v0 = v0.add(FloatVector.fromMemorySegment(S, c, o, NO));
                v1 = v1.add(FloatVector.fromMemorySegment(S, c, o + VB, NO));
            }
            v0.intoMemorySegment(c, o, NO);
            v1.intoMemorySegment(c, o + VB, NO);
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
