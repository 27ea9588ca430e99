package fourfold.engine.kernels;

import fourfold.devices.Device;
import fourfold.engine.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Merges two partial attention results over disjoint key sets by their log-sum-exp (ring
 * attention): lse = log(e^lse_a + e^lse_b), out = e^(lse_a - lse)·out_a + e^(lse_b - lse)·out_b.
 * A side that saw no key (lse = -infinity) has weight 0; when neither did, out stays 0 and lse
 * -infinity.
 *
 * <p>No backward is needed: a block's backward run with the merged out and lse (Attention.backward
 * recomputes p = e^(s - lse) and D = rowsum(dO·out)) gives exactly that block's share of dq, dk
 * and dv, as FlashAttention's ring variants do.
 */
public final class AttentionMerge {
    private AttentionMerge() {}

    private static final VectorSpecies<Float> S = KernelSupport.FLOATS;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** In place into (out, lse): out (B,T,nh,hs), lse (B,nh,T) merged with (outB, lseB) of the same shapes. */
    public static void merge(Tensor out, Tensor lse, Tensor outB, Tensor lseB, AttentionShape s) {
        String op = "attention merge";
        Tensor.requireSameDevice(op, out, lse, outB, lseB);
        s.requireQuery(op, out);
        s.requireQuery(op, outB);
        s.requireLse(op, lse);
        s.requireLse(op, lseB);
        int B = s.B(), T = s.T(), nh = s.nh(), hs = s.hs();
        MemorySegment so = out.segment(), sl = lse.segment(), sob = outB.segment(), slb = lseB.segment();
        Device device = out.device();
        device.parallelFor(B * T, KernelSupport.rowGrain(nh * hs), (r0, r1) -> {
            for (int row = r0; row < r1; row++) {
                int b = row / T, t = row % T;
                for (int h = 0; h < nh; h++) {
                    long li = (((long) b * nh + h) * T + t) * Float.BYTES;
                    float la = sl.get(Tensor.F32, li), lb = slb.get(Tensor.F32, li);
                    if (lb == Float.NEGATIVE_INFINITY) continue; // nothing to add
                    float wa, wb, l;
                    if (la == Float.NEGATIVE_INFINITY) {
                        wa = 0f;
                        wb = 1f;
                        l = lb;
                    } else {
                        float max = Math.max(la, lb);
                        l = max + (float) Math.log(Math.exp(la - max) + Math.exp(lb - max));
                        wa = (float) Math.exp(la - l);
                        wb = (float) Math.exp(lb - l);
                    }
                    sl.set(Tensor.F32, li, l);
                    long at = (((long) row * nh) + h) * hs * Float.BYTES;
                    int i = 0;
                    for (; i + S.length() <= hs; i += S.length()) {
                        long o = at + (long) i * Float.BYTES;
                        FloatVector.fromMemorySegment(S, so, o, NATIVE).mul(wa)
                                .add(FloatVector.fromMemorySegment(S, sob, o, NATIVE).mul(wb)).intoMemorySegment(so, o, NATIVE);
                    }
                    if (i < hs) {
                        VectorMask<Float> m = S.indexInRange(i, hs);
                        long o = at + (long) i * Float.BYTES;
                        FloatVector.fromMemorySegment(S, so, o, NATIVE, m).mul(wa)
                                .add(FloatVector.fromMemorySegment(S, sob, o, NATIVE, m).mul(wb)).intoMemorySegment(so, o, NATIVE, m);
                    }
                }
            }
        });
        long n = (long) B * T * nh * hs;
        device.recordCompute("attention_merge", 3.0 * n, 12.0 * n);
    }
}
