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
     * C (6, 2L) tile at cOff [+]= A sliver (kc, 6) at aOff · B sliver (kc, 2L) at bOff; offsets in
     * bytes. {@code rows} x {@code cols} is the part of the tile inside C (less at C's edges);
     * {@code overwrite} stores instead of adding.
     */
    static void kernel6x2(int kc, MemorySegment pa, long aOff, MemorySegment pb, long bOff,
            MemorySegment c, long cOff, long ldcBytes, int rows, int cols, boolean overwrite, MemorySegment tile) {
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
        // Full tiles go straight to C; edge tiles go to the scratch tile, then only their valid part to C.
        boolean full = rows == 6 && cols == 2 * L;
        MemorySegment dst = full ? c : tile;
        long o = full ? cOff : 0;
        long ld = full ? ldcBytes : 2 * VB;
        boolean add = full && !overwrite;
        if (add) {
            c00 = c00.add(FloatVector.fromMemorySegment(S, dst, o, NO));
            c01 = c01.add(FloatVector.fromMemorySegment(S, dst, o + VB, NO));
        }
        c00.intoMemorySegment(dst, o, NO);
        c01.intoMemorySegment(dst, o + VB, NO);
        o += ld;
        if (add) {
            c10 = c10.add(FloatVector.fromMemorySegment(S, dst, o, NO));
            c11 = c11.add(FloatVector.fromMemorySegment(S, dst, o + VB, NO));
        }
        c10.intoMemorySegment(dst, o, NO);
        c11.intoMemorySegment(dst, o + VB, NO);
        o += ld;
        if (add) {
            c20 = c20.add(FloatVector.fromMemorySegment(S, dst, o, NO));
            c21 = c21.add(FloatVector.fromMemorySegment(S, dst, o + VB, NO));
        }
        c20.intoMemorySegment(dst, o, NO);
        c21.intoMemorySegment(dst, o + VB, NO);
        o += ld;
        if (add) {
            c30 = c30.add(FloatVector.fromMemorySegment(S, dst, o, NO));
            c31 = c31.add(FloatVector.fromMemorySegment(S, dst, o + VB, NO));
        }
        c30.intoMemorySegment(dst, o, NO);
        c31.intoMemorySegment(dst, o + VB, NO);
        o += ld;
        if (add) {
            c40 = c40.add(FloatVector.fromMemorySegment(S, dst, o, NO));
            c41 = c41.add(FloatVector.fromMemorySegment(S, dst, o + VB, NO));
        }
        c40.intoMemorySegment(dst, o, NO);
        c41.intoMemorySegment(dst, o + VB, NO);
        o += ld;
        if (add) {
            c50 = c50.add(FloatVector.fromMemorySegment(S, dst, o, NO));
            c51 = c51.add(FloatVector.fromMemorySegment(S, dst, o + VB, NO));
        }
        c50.intoMemorySegment(dst, o, NO);
        c51.intoMemorySegment(dst, o + VB, NO);
        if (!full) mergeTile(tile, 2 * L, c, cOff, ldcBytes, rows, cols, overwrite);
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
