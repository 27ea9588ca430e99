package fourfold.engine.kernels;

import fourfold.engine.UserError;
import fourfold.engine.tensor.Shape;
import fourfold.engine.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Small helpers shared by the elementwise, normalization, embedding, loss and optimizer kernels:
 * how finely to split work across a device's workers, a reduction whose order never changes, a
 * reproducible vector exp, and argument checks whose messages name the operation and the shapes.
 */
final class KernelSupport {
    private KernelSupport() {}

    /**
     * The float vector shape of every kernel: the machine's preferred one (8 lanes with AVX2, 16
     * with AVX-512), or {@code -Dfourfold.vectorBits=128|256|512}. The override is for tests: a
     * second surefire execution runs the kernels with 16 lanes on an AVX2 machine (the JIT then
     * does not intrinsify them, so only for small sizes), so the AVX-512 code paths are checked
     * where there is no AVX-512.
     */
    static final VectorSpecies<Float> FLOATS = floats();
    private static final VectorSpecies<Float> S = FLOATS;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** 1.5 * 2^23: adding it rounds a float of magnitude < 2^22 to an integer held in the low mantissa bits. */
    private static final float ROUND_MAGIC = 12582912f;
    private static final int ROUND_MAGIC_BITS = Float.floatToRawIntBits(ROUND_MAGIC);
    /** ln 2 = LN2_HI + LN2_LO; n * LN2_HI is exact for |n| < 2^15 (Cody and Waite's range reduction). */
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;

    /**
     * Elements one parallel task should at least own: below this the hand-off to a worker costs
     * more than the work (a fork/join round trip is a few microseconds, 16K floats take about as long).
     */
    static final int MIN_ELEMENTS_PER_TASK = 1 << 14;

    private static VectorSpecies<Float> floats() {
        String bits = System.getProperty("fourfold.vectorBits");
        if (bits == null) return FloatVector.SPECIES_PREFERRED;
        return switch (bits) {
            case "128" -> FloatVector.SPECIES_128;
            case "256" -> FloatVector.SPECIES_256;
            case "512" -> FloatVector.SPECIES_512;
            default -> throw badOption("fourfold.vectorBits", "128, 256 or 512", bits);
        };
    }

    /** A kernel tuning option (a system property, read once at class load) with a value it cannot take. */
    static UserError badOption(String property, String expected, String value) {
        return new UserError("-D" + property + " must be " + expected + ", got '" + value + "'; fix it in FOURFOLD_JAVA_OPTS or the JVM options");
    }

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

    /** Elements per {@link #exp} call from a kernel loop: the scratch it fills stays in L1. */
    static final int EXP_CHUNK = 2048;

    /** Scratch for {@link #exp}: EXP_CHUNK floats plus one vector of padding for the tail. */
    static float[] expScratch() {
        return new float[EXP_CHUNK + S.length()];
    }

    /**
     * dst[i] = exp(scale * src[i] - shift) for i in [0, n), src being floats at byte offset
     * {@code srcOff}; dst needs n rounded up to a whole vector (see {@link #expScratch()}).
     *
     * <p>Built from IEEE-exact operations only (multiply, add, fused multiply-add, integer shifts),
     * so an input gives the same bits in the interpreter, C1 and C2 and on every CPU.
     * {@code lanewise(VectorOperators.EXP)} does not: compiled code calls Intel SVML while the
     * interpreter and C1 fall back to {@code (float) Math.exp}, and the two differ in the last bit
     * for some inputs, so a result would depend on when the JIT compiled the kernel.
     *
     * <p>Cephes' expf: n = round(x / ln 2), r = x - n ln 2 in two parts (|r| <= ln2 / 2),
     * exp(r) = 1 + r + r² P(r) with a degree-5 minimax P, then times 2^n applied as two powers of
     * two so that neither leaves the normal range. Error below 1 ulp (ElementwiseTest checks Elementwise.exp over
     * [-104, 89]); exp(x) = 0 below about -103.9, +inf above 88.72, NaN stays NaN.
     *
     * <p>A loop over memory rather than a function of one vector: a vector passed to a method C2
     * does not inline is boxed on the heap, and C2 does not reliably inline a method this large.
     */
    static void exp(MemorySegment src, long srcOff, int n, float scale, float shift, float[] dst) {
        for (int i = 0; i < n; i += S.length()) {
            long off = srcOff + (long) i * Float.BYTES;
            FloatVector x = i + S.length() <= n ? FloatVector.fromMemorySegment(S, src, off, NATIVE)
                    : FloatVector.fromMemorySegment(S, src, off, NATIVE, S.indexInRange(i, n)); // tail: zeros past n
            x = x.mul(scale).sub(shift).max(-104f).min(89f);                // NaN stays NaN (Math.max/min semantics)
            FloatVector t = x.fma(1.44269504088896341f, ROUND_MAGIC);         // x / ln2 + magic: rounds to nearest
            FloatVector k = t.sub(ROUND_MAGIC);
            FloatVector r = k.mul(-LN2_HI).add(x);                           // exact: k * LN2_HI has <= 17 significant bits
            r = k.fma(FloatVector.broadcast(S, -LN2_LO), r);
            FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f);
            p = p.fma(r, FloatVector.broadcast(S, 8.3334519073e-3f));
            p = p.fma(r, FloatVector.broadcast(S, 4.1665795894e-2f));
            p = p.fma(r, FloatVector.broadcast(S, 1.6666665459e-1f));
            p = p.fma(r, FloatVector.broadcast(S, 5.0000001201e-1f));
            FloatVector y = p.fma(r.mul(r), r).add(1f);                      // e^r = 1 + r + r² P(r)
            // 2^k = 2^(k >> 1) * 2^(k - (k >> 1)): both factors are normal floats for k in [-150, 128]
            IntVector ki = ((IntVector) t.viewAsIntegralLanes()).sub(ROUND_MAGIC_BITS);
            IntVector half = ki.lanewise(VectorOperators.ASHR, 1);
            FloatVector s1 = (FloatVector) half.add(127).lanewise(VectorOperators.LSHL, 23).viewAsFloatingLanes();
            FloatVector s2 = (FloatVector) ki.sub(half).add(127).lanewise(VectorOperators.LSHL, 23).viewAsFloatingLanes();
            y.mul(s1).mul(s2).intoArray(dst, i);
        }
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
