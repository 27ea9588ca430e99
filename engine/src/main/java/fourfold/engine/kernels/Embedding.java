package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.engine.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Token embedding lookup and its scatter-add backward. {@code vocabStart} lets a vocab-parallel
 * shard hold rows [vocabStart, vocabStart + table.rows()): tokens outside give zero rows.
 */
public final class Embedding {
    private Embedding() {}

    private static final VectorSpecies<Float> S = KernelSupport.FLOATS;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** tokens (N) -> out (N,C) = table[token - vocabStart], or 0 for tokens outside the shard. */
    public static void forward(int[] tokens, Tensor table, int vocabStart, Tensor out) {
        String op = "Embedding.forward";
        Tensor.requireSameDevice(op, table, out);
        int N = tokens.length, C = table.cols(), rows = table.rows();
        requireTokens(op, tokens, vocabStart);
        KernelSupport.requireMatrix(op, out, N, C);
        MemorySegment st = table.segment(), so = out.segment();
        long rowBytes = (long) C * Float.BYTES;
        Device device = table.device();
        device.parallelFor(N, KernelSupport.rowGrain(C), (n0, n1) -> {
            for (int n = n0; n < n1; n++) {
                long dst = n * rowBytes;
                int row = tokens[n] - vocabStart; // < 0 or >= rows: another shard's token
                if (row >= 0 && row < rows) {
                    MemorySegment.copy(st, row * rowBytes, so, dst, rowBytes);
                } else {
                    so.asSlice(dst, rowBytes).fill((byte) 0);
                }
            }
        });
        device.recordCompute("embedding.forward", 0, 8.0 * N * C);
    }

    /**
     * dtable[token - vocabStart] += dout[n] for tokens inside the shard; deterministic order.
     * Parallel over column ranges; within a range the tokens are added in order n = 0, 1, ...,
     * so repeated tokens sum in the same order for every thread count.
     */
    public static void backward(int[] tokens, Tensor dout, int vocabStart, Tensor dtable) {
        String op = "Embedding.backward";
        Tensor.requireSameDevice(op, dout, dtable);
        int N = tokens.length, C = dtable.cols(), rows = dtable.rows();
        requireTokens(op, tokens, vocabStart);
        KernelSupport.requireMatrix(op, dout, N, C);
        MemorySegment sd = dout.segment(), st = dtable.segment();
        long rowBytes = (long) C * Float.BYTES;
        int colVectors = (C + S.length() - 1) / S.length();
        Device device = dtable.device();
        device.parallelFor(colVectors, KernelSupport.rowGrain(N * S.length()), (v0, v1) -> {
            int c0 = v0 * S.length(), c1 = Math.min(C, v1 * S.length()), full = c0 + (c1 - c0) / S.length() * S.length();
            for (int n = 0; n < N; n++) {
                int row = tokens[n] - vocabStart;
                if (row < 0 || row >= rows) continue; // another shard's token
                long src = n * rowBytes, dst = row * rowBytes;
                int i = c0;
                for (; i < full; i += S.length()) {
                    long col = (long) i * Float.BYTES;
                    FloatVector.fromMemorySegment(S, st, dst + col, NATIVE).add(FloatVector.fromMemorySegment(S, sd, src + col, NATIVE))
                            .intoMemorySegment(st, dst + col, NATIVE);
                }
                if (i < c1) {
                    VectorMask<Float> m = S.indexInRange(i, c1);
                    long col = (long) i * Float.BYTES;
                    FloatVector.fromMemorySegment(S, st, dst + col, NATIVE, m).add(FloatVector.fromMemorySegment(S, sd, src + col, NATIVE, m))
                            .intoMemorySegment(st, dst + col, NATIVE, m);
                }
            }
        });
        device.recordCompute("embedding.backward", (double) N * C, 12.0 * N * C);
    }

    private static void requireTokens(String op, int[] tokens, int vocabStart) {
        if (tokens.length == 0) throw new IllegalArgumentException(op + ": no tokens (N = 0), expected at least one");
        if (vocabStart < 0) throw new IllegalArgumentException(op + ": vocabStart must be >= 0, got " + vocabStart);
        for (int n = 0; n < tokens.length; n++) {
            if (tokens[n] < 0) {
                throw new IllegalArgumentException(op + ": tokens[" + n + "] = " + tokens[n] + " is negative, expected a token id >= 0");
            }
        }
    }
}
