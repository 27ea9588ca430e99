package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.engine.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * Single-precision matrix multiply on one device's workers, in the three forms a Linear layer
 * needs: forward C = A·Bᵀ (nt), input gradient C = A·B (nn), weight gradient C = Aᵀ·B (tn).
 * With {@code accumulate} the product is added to C (gradient accumulation).
 * Tensors are seen as matrices: rows() x cols().
 */
public final class Gemm {
    private Gemm() {}

    /** C (M,N) [+]= A (M,K) · B (K,N). */
    public static void nn(Tensor a, Tensor b, Tensor c, boolean accumulate) {
        throw new UnsupportedOperationException("Gemm.nn: not implemented yet");
    }

    /** C (M,N) [+]= A (M,K) · Bᵀ, B is (N,K). */
    public static void nt(Tensor a, Tensor b, Tensor c, boolean accumulate) {
        throw new UnsupportedOperationException("Gemm.nt: not implemented yet");
    }

    /** C (M,N) [+]= Aᵀ · B, A is (K,M), B is (K,N). */
    public static void tn(Tensor a, Tensor b, Tensor c, boolean accumulate) {
        throw new UnsupportedOperationException("Gemm.tn: not implemented yet");
    }

    /**
     * BLAS-style core: C[cOff..] (M,N, row stride ldc) [+]= op(A) · op(B), offsets and strides in floats.
     * op(A) is (M,K): A is stored (M, lda) or, with transA, (K, lda). op(B) is (K,N): B is stored
     * (K, ldb) or, with transB, (N, ldb).
     */
    public static void gemm(Device device, boolean transA, boolean transB, int M, int N, int K,
                            MemorySegment a, long aOff, int lda,
                            MemorySegment b, long bOff, int ldb,
                            MemorySegment c, long cOff, int ldc, boolean accumulate) {
        throw new UnsupportedOperationException("Gemm.gemm: not implemented yet");
    }
}
