package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.engine.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * Row permutations of matrices (rows, w), leading dims flattened: context parallel puts gathered
 * K/V rows into sequence order and sends gradient rows back to the rank that owns them.
 */
public final class Rows {
    private Rows() {}

    /** dst[i] = src[from[i]] for every row i of dst. */
    public static void gather(Tensor src, int[] from, Tensor dst) {
        String op = "rows gather";
        int w = dst.cols();
        KernelSupport.requireMatrix(op, dst, from.length, w);
        permute(op, src, dst, w, from, null);
    }

    /** dst[to[i]] = src[i] for every row i of src; other rows of dst are left as they were. */
    public static void scatter(Tensor src, int[] to, Tensor dst) {
        String op = "rows scatter";
        int w = src.cols();
        KernelSupport.requireMatrix(op, src, to.length, w);
        permute(op, src, dst, w, null, to);
    }

    private static void permute(String op, Tensor src, Tensor dst, int w, int[] from, int[] to) {
        Tensor.requireSameDevice(op, src, dst);
        if (src.cols() != w || dst.cols() != w) {
            throw new IllegalArgumentException(op + ": " + src + " and " + dst + " need rows of the same width " + w);
        }
        int n = from != null ? from.length : to.length;
        long srcRows = src.numel() / w, dstRows = dst.numel() / w, bytes = (long) w * Float.BYTES;
        MemorySegment s = src.segment(), d = dst.segment();
        for (int i = 0; i < n; i++) {
            long si = from != null ? from[i] : i, di = to != null ? to[i] : i;
            if (si < 0 || si >= srcRows || di < 0 || di >= dstRows) {
                throw new IllegalArgumentException(op + ": row " + si + " -> " + di + " outside " + src + " -> " + dst);
            }
            MemorySegment.copy(s, si * bytes, d, di * bytes, bytes);
        }
        Device device = src.device();
        device.recordCompute("rows_permute", 0, 2.0 * n * bytes);
    }
}
