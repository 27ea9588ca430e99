package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.engine.tensor.Shape;
import fourfold.engine.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Rotary position embedding in Hugging Face's rotate-half convention: for head size hs and
 * i < hs/2, the pair (x[i], x[i + hs/2]) is rotated by angle pos * theta^(-2i/hs).
 * Positions are given per token so that context parallel shards (non-contiguous) rotate correctly.
 * One instance holds the cos/sin table for positions [0, maxPositions).
 *
 * <p>The table is computed in float32 as HF's LlamaRotaryEmbedding does:
 * inv_freq = 1.0 / (theta ** (arange(0, hs, 2).float() / hs)), angle = float(pos) * inv_freq,
 * then cos and sin of the float angle. The angle's float rounding matters at large positions
 * (about 2e-4 rad at pos 4096), so a table computed in double would NOT match HF.
 */
public final class Rope {
    private static final VectorSpecies<Float> S = KernelSupport.FLOATS;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private final int headSize;
    private final int half;
    private final int maxPositions;
    /** (maxPositions, hs/2): cos[pos * half + i] of the angle of pair i at position pos; same for sin. */
    private final float[] cos;
    private final float[] sin;

    public Rope(int headSize, int maxPositions, double theta) {
        if (headSize <= 0 || headSize % 2 != 0) {
            throw new IllegalArgumentException("Rope: head size must be positive and even (rotate-half pairs x[i] with x[i + hs/2]), got " + headSize);
        }
        if (maxPositions <= 0) throw new IllegalArgumentException("Rope: maxPositions must be positive, got " + maxPositions);
        if (!(theta > 0) || Double.isInfinite(theta)) throw new IllegalArgumentException("Rope: theta must be finite and > 0, got " + theta);
        this.headSize = headSize;
        this.half = headSize / 2;
        this.maxPositions = maxPositions;
        this.cos = new float[maxPositions * half];
        this.sin = new float[maxPositions * half];
        float base = (float) theta; // torch turns the Python float into the tensor's dtype
        float[] invFreq = new float[half];
        for (int i = 0; i < half; i++) {
            float exponent = (float) (2 * i) / (float) headSize;   // arange(0, hs, 2).float() / hs
            invFreq[i] = 1.0f / (float) Math.pow(base, exponent);   // 1.0 / (base ** exponent), in float32
        }
        for (int p = 0; p < maxPositions; p++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) p * invFreq[i];                  // float32 product, as HF's matmul of (hs/2,1)x(1,T)
                cos[p * half + i] = (float) Math.cos(angle);
                sin[p * half + i] = (float) Math.sin(angle);
            }
        }
    }

    public int headSize() {
        return headSize;
    }

    public int maxPositions() {
        return maxPositions;
    }

    /** x (B, T, nh, hs), rotated in place; positions per token (B*T), or per token index (T) when all rows share them. */
    public void forward(Tensor x, int B, int T, int nh, int[] positions) {
        rotate("Rope.forward", "rope.forward", x, B, T, nh, positions, 1f);
    }

    /** dx (B, T, nh, hs), in place: the transpose of forward (rotation by the negative angle). */
    public void backward(Tensor dx, int B, int T, int nh, int[] positions) {
        rotate("Rope.backward", "rope.backward", dx, B, T, nh, positions, -1f);
    }

    /**
     * Rotates every head vector of x by its token's angle times {@code sign} (+1 forward, -1 the
     * inverse). HF's q*cos + rotate_half(q)*sin: out1 = x1*cos - x2*sin, out2 = x2*cos + x1*sin,
     * rounded as torch rounds it (products, then one add; negating sin is exact).
     */
    private void rotate(String op, String kernel, Tensor x, int B, int T, int nh, int[] positions, float sign) {
        Shape.requirePositive(op + " (B, T, nh)", B, T, nh);
        KernelSupport.requireNumel(op, x, (long) B * T * nh * headSize, "(B, T, nh, hs) = " + Shape.str(B, T, nh, headSize));
        if (positions.length != B * T) {
            KernelSupport.requireLength(op, "positions", positions.length, T, "one position per token (B*T = " + B * T + ") or per token index (T = " + T + ")");
        }
        for (int t = 0; t < positions.length; t++) {
            if (positions[t] < 0 || positions[t] >= maxPositions) {
                throw new IllegalArgumentException(op + ": positions[" + t + "] = " + positions[t] + " is outside the table [0, "
                        + maxPositions + "); build the Rope with a larger maxPositions");
            }
        }
        MemorySegment sx = x.segment();
        int tokens = B * T, hs = headSize, h = half;
        int period = positions.length; // T: the same positions in every row
        int bound = S.loopBound(h); // full vectors; a masked tail covers [bound, hs/2)
        Device device = x.device();
        // parallel over tokens; a token's nh heads share one row of the cos/sin table
        device.parallelFor(tokens, KernelSupport.rowGrain(nh * hs), (n0, n1) -> {
            for (int n = n0; n < n1; n++) {
                int table = positions[n % period] * h;
                for (int head = 0; head < nh; head++) {
                    long row = ((long) n * nh + head) * hs * Float.BYTES;
                    int i = 0;
                    for (; i < bound; i += S.length()) {
                        long o1 = row + (long) i * Float.BYTES, o2 = o1 + (long) h * Float.BYTES;
                        FloatVector x1 = FloatVector.fromMemorySegment(S, sx, o1, NATIVE);
                        FloatVector x2 = FloatVector.fromMemorySegment(S, sx, o2, NATIVE);
                        FloatVector c = FloatVector.fromArray(S, cos, table + i);
                        FloatVector s = FloatVector.fromArray(S, sin, table + i).mul(sign);
                        x1.mul(c).sub(x2.mul(s)).intoMemorySegment(sx, o1, NATIVE);
                        x2.mul(c).add(x1.mul(s)).intoMemorySegment(sx, o2, NATIVE);
                    }
                    if (i < h) {
                        VectorMask<Float> m = S.indexInRange(i, h);
                        long o1 = row + (long) i * Float.BYTES, o2 = o1 + (long) h * Float.BYTES;
                        FloatVector x1 = FloatVector.fromMemorySegment(S, sx, o1, NATIVE, m);
                        FloatVector x2 = FloatVector.fromMemorySegment(S, sx, o2, NATIVE, m);
                        FloatVector c = FloatVector.fromArray(S, cos, table + i, m);
                        FloatVector s = FloatVector.fromArray(S, sin, table + i, m).mul(sign);
                        x1.mul(c).sub(x2.mul(s)).intoMemorySegment(sx, o1, NATIVE, m);
                        x2.mul(c).add(x1.mul(s)).intoMemorySegment(sx, o2, NATIVE, m);
                    }
                }
            }
        });
        long n = (long) tokens * nh * hs;
        device.recordCompute(kernel, 3.0 * n, 8.0 * n); // the cos/sin rows of T tokens stay in cache
    }
}
