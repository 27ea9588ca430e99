package fourfold.engine.kernels;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The kernels' vector shape is the machine's, or the one -Dfourfold.vectorBits names: the
 * surefire execution that sets 512 must really run every kernel with 16 lanes (and the GEMM
 * with the AVX-512 tile), or its passing tests would prove nothing about those code paths; the
 * same for the GEMM block sizes that the 4 x 4 execution shrinks (and that are otherwise derived
 * from the machine's caches).
 */
class VectorShapeTest {
    @Test
    void kernelsUseTheRequestedVectorShape() {
        int expectedBits = Integer.getInteger("fourfold.vectorBits", FloatVector.SPECIES_PREFERRED.vectorBitSize());
        assertEquals(expectedBits, KernelSupport.FLOATS.vectorBitSize(), "bits of every kernel's FloatVector species");
        assertEquals(expectedBits / Float.SIZE, GemmKernels.L, "GEMM lanes follow the same shape");
        assertEquals(System.getProperty("fourfold.gemm.tile", GemmKernels.L >= 16 ? "4x4" : "6x2"), GemmKernels.TILE,
                "16 lanes pick the 4 x 4 tile, 8 the 6 x 2 tile, unless fourfold.gemm.tile says otherwise");
        // Unset block sizes are derived from this machine's caches (mc and nc from the K block in use).
        GemmBlocks derived = GemmBlocks.of(CacheSizes.machine(), GemmKernels.MR, GemmKernels.NR,
                name -> name.equals("fourfold.gemm.kc") ? System.getProperty(name) : null);
        assertEquals(Integer.getInteger("fourfold.gemm.kc", derived.kc()), Gemm.KC, "K blocks: from L1d unless fourfold.gemm.kc says otherwise");
        assertEquals(Integer.getInteger("fourfold.gemm.mc", derived.mc()), Gemm.MC, "A blocks: from L2 unless fourfold.gemm.mc says otherwise");
        assertEquals(Integer.getInteger("fourfold.gemm.nc", derived.nc()), Gemm.NC, "B panels: from L3 unless fourfold.gemm.nc says otherwise");
    }
}
