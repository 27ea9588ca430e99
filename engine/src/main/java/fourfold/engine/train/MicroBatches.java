package fourfold.engine.train;

import fourfold.engine.data.Batch;
import fourfold.engine.model.MicroBatch;

import java.util.ArrayList;
import java.util.List;

/** The one place that turns this rank's rows of the global batch into the step's micro-batches. */
public final class MicroBatches {
    private MicroBatches() {}

    /** {@code local} cut into {@code count} equal groups of rows, in order (count divides local.B()). */
    public static List<MicroBatch> split(Batch local, int count) {
        int rows = local.B() / count;
        List<MicroBatch> out = new ArrayList<>(count);
        for (int m = 0; m < count; m++) {
            Batch part = local.rows(m * rows, rows);
            out.add(MicroBatch.causal(part.B(), part.T(), part.inputs(), part.targets()));
        }
        return out;
    }
}
