package fourfold.engine.tensor;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.ReduceOp;

/**
 * Sums of a few doubles over a group (loss sums, squared norms). Collectives move float32, so each
 * double travels as a (high, low) pair of floats: the sum keeps about 48 bits, and the order of
 * the ring is fixed, so results are reproducible bit for bit.
 */
public final class Scalars {
    private Scalars() {}

    public static double allReduceSum(ProcessGroup group, Device device, double value) {
        return allReduceSum(group, device, new double[]{value})[0];
    }

    public static double[] allReduceSum(ProcessGroup group, Device device, double[] values) {
        if (group == null || group.size() == 1) return values.clone();
        float[] pairs = new float[values.length * 2];
        for (int i = 0; i < values.length; i++) {
            float hi = (float) values[i];
            pairs[2 * i] = hi;
            pairs[2 * i + 1] = (float) (values[i] - hi);
        }
        try (Tensor buf = Tensor.of(device, MemoryTag.COMM, "scalars", pairs, pairs.length)) {
            group.allReduce(buf.segment(), ReduceOp.SUM);
            double[] out = new double[values.length];
            for (int i = 0; i < values.length; i++) out[i] = (double) buf.get(2 * i) + buf.get(2 * i + 1);
            return out;
        }
    }
}
