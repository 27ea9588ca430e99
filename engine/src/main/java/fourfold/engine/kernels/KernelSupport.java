package fourfold.engine.kernels;

import fourfold.engine.tensor.Shape;
import fourfold.engine.tensor.Tensor;

/**
 * Small helpers shared by the elementwise, normalization, embedding, loss and optimizer kernels:
 * how finely to split work across a device's workers, a reduction whose order never changes, and
 * argument checks whose messages name the operation and the shapes.
 */
final class KernelSupport {
    private KernelSupport() {}

    /**
     * Elements one parallel task should at least own: below this the hand-off to a worker costs
     * more than the work (a fork/join round trip is a few microseconds, 16K floats take about as long).
     */
    static final int MIN_ELEMENTS_PER_TASK = 1 << 14;

    /** Rows per parallel task for rows of {@code cols} elements (at least 1). */
    static int rowGrain(int cols) {
        return Math.max(1, MIN_ELEMENTS_PER_TASK / Math.max(1, cols));
    }

    /**
     * Sum of the lanes of a vector accumulator (spilled to {@code lanes}), pairwise in a fixed order.
     * {@code FloatVector.reduceLanes(ADD)} leaves the order to the implementation (the interpreter
     * and the JIT may differ), which would break run-to-run bitwise reproducibility. Destroys {@code lanes}.
     */
    static float sumLanes(float[] lanes) {
        for (int width = lanes.length / 2; width >= 1; width /= 2) {
            for (int i = 0; i < width; i++) lanes[i] += lanes[i + width];
        }
        return lanes[0];
    }

    /** Same as {@link #sumLanes(float[])} for double lanes. */
    static double sumLanes(double[] lanes) {
        for (int width = lanes.length / 2; width >= 1; width /= 2) {
            for (int i = 0; i < width; i++) lanes[i] += lanes[i + width];
        }
        return lanes[0];
    }

    /** Refuses tensors whose element counts differ from the first one's. */
    static void requireSameNumel(String op, Tensor... tensors) {
        long n = tensors[0].numel();
        for (Tensor t : tensors) {
            if (t.numel() != n) {
                StringBuilder s = new StringBuilder(op).append(": element counts differ (");
                for (int i = 0; i < tensors.length; i++) {
                    if (i > 0) s.append(", ");
                    s.append(tensors[i].name()).append(Shape.str(tensors[i].shape()));
                }
                throw new IllegalArgumentException(s.append("), expected equal element counts").toString());
            }
        }
    }

    /** Refuses a tensor that is not a matrix of {@code rows} x {@code cols} (leading dims flattened). */
    static void requireMatrix(String op, Tensor t, int rows, int cols) {
        if (t.cols() != cols || t.numel() != (long) rows * cols) {
            throw new IllegalArgumentException(op + ": " + t.name() + " has shape " + Shape.str(t.shape())
                    + ", expected " + rows + " rows of " + cols + " (shape (" + rows + ", " + cols + ") with leading dims flattened)");
        }
    }

    /** Refuses a tensor that does not hold exactly {@code expected} elements. */
    static void requireNumel(String op, Tensor t, long expected, String why) {
        if (t.numel() != expected) {
            throw new IllegalArgumentException(op + ": " + t.name() + " has shape " + Shape.str(t.shape()) + " (" + t.numel()
                    + " elements), expected " + expected + " elements (" + why + ")");
        }
    }

    /** Refuses an array (per-row values, token ids) of the wrong length. */
    static void requireLength(String op, String what, int length, int expected, String why) {
        if (length != expected) {
            throw new IllegalArgumentException(op + ": " + what + " has length " + length + ", expected " + expected + " (" + why + ")");
        }
    }
}
