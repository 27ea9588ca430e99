package fourfold.devices.comm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The reduction kernel of the collectives: {@code dst[i] = a[i] (op) b[i]} over float32 segments,
 * offsets in bytes. Lane-wise, so the result does not depend on vector width or on where a slice
 * starts; {@code dst} may be {@code a} (in place).
 */
public final class Reduce {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    /** Tails (fewer floats than a vector): slices may start at any float offset. */
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private Reduce() {}

    /**
     * {@code dst = a (op) b} for {@code n} floats. With {@code last} and AVG the sum is divided by
     * {@code divisor} (the group size): the final step of a chunk's reduction.
     */
    public static void combine(ReduceOp op, boolean last, int divisor, MemorySegment a, long aOff, MemorySegment b, long bOff,
                        MemorySegment dst, long dOff, long n) {
        if (op == ReduceOp.MAX) max(a, aOff, b, bOff, dst, dOff, n);
        else if (op == ReduceOp.AVG && last) sumDivide(a, aOff, b, bOff, dst, dOff, n, divisor);
        else sum(a, aOff, b, bOff, dst, dOff, n);
    }

    private static void sum(MemorySegment a, long aOff, MemorySegment b, long bOff, MemorySegment dst, long dOff, long n) {
        long step = SPECIES.length();
        long upper = n - n % step;
        long i = 0;
        for (; i < upper; i += step) {
            long o = i * Float.BYTES;
            FloatVector va = FloatVector.fromMemorySegment(SPECIES, a, aOff + o, ORDER);
            FloatVector vb = FloatVector.fromMemorySegment(SPECIES, b, bOff + o, ORDER);
            va.add(vb).intoMemorySegment(dst, dOff + o, ORDER);
        }
        for (; i < n; i++) {
            long o = i * Float.BYTES;
            dst.set(F, dOff + o,
                    a.get(F, aOff + o) + b.get(F, bOff + o));
        }
    }

    private static void sumDivide(MemorySegment a, long aOff, MemorySegment b, long bOff, MemorySegment dst, long dOff, long n, int divisor) {
        long step = SPECIES.length();
        long upper = n - n % step;
        float d = divisor;
        long i = 0;
        for (; i < upper; i += step) {
            long o = i * Float.BYTES;
            FloatVector va = FloatVector.fromMemorySegment(SPECIES, a, aOff + o, ORDER);
            FloatVector vb = FloatVector.fromMemorySegment(SPECIES, b, bOff + o, ORDER);
            va.add(vb).div(d).intoMemorySegment(dst, dOff + o, ORDER);
        }
        for (; i < n; i++) {
            long o = i * Float.BYTES;
            float s = a.get(F, aOff + o) + b.get(F, bOff + o);
            dst.set(F, dOff + o, s / d);
        }
    }

    private static void max(MemorySegment a, long aOff, MemorySegment b, long bOff, MemorySegment dst, long dOff, long n) {
        long step = SPECIES.length();
        long upper = n - n % step;
        long i = 0;
        for (; i < upper; i += step) {
            long o = i * Float.BYTES;
            FloatVector va = FloatVector.fromMemorySegment(SPECIES, a, aOff + o, ORDER);
            FloatVector vb = FloatVector.fromMemorySegment(SPECIES, b, bOff + o, ORDER);
            va.lanewise(VectorOperators.MAX, vb).intoMemorySegment(dst, dOff + o, ORDER);
        }
        for (; i < n; i++) {
            long o = i * Float.BYTES;
            dst.set(F, dOff + o,
                    Math.max(a.get(F, aOff + o), b.get(F, bOff + o)));
        }
    }
}
