package fourfold.engine.train;

import fourfold.engine.cp.SequenceSplit;
import fourfold.engine.cp.Sharding;
import fourfold.engine.data.Batch;
import fourfold.engine.data.Documents;
import fourfold.engine.model.MicroBatch;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns rows of the global batch into the micro-batches this rank runs: the whole rows, or under
 * context parallel this cp rank's tokens of them, with packed documents when --doc-mask asks.
 * The one place where a step's micro-batches are built (training and evaluation alike).
 */
public record MicroBatches(Documents documents, Sharding sharding, int cp, int cpRank) {
    /** One rank, whole sequences. */
    public static MicroBatches single(Documents documents) {
        return new MicroBatches(documents, Sharding.HEADTAIL, 1, 0);
    }

    /** {@code local} (this dp rank's rows) cut into {@code count} equal groups of rows, in order (count divides local.B()). */
    public List<MicroBatch> split(Batch local, int count) {
        int rows = local.B() / count;
        List<MicroBatch> out = new ArrayList<>(count);
        for (int m = 0; m < count; m++) out.add(of(local.rows(m * rows, rows)));
        return out;
    }

    public MicroBatch of(Batch rows) {
        int B = rows.B(), T = rows.T();
        Documents.Packing p = documents != null ? documents.pack(rows.inputs(), B, T) : null;
        if (cp == 1) {
            return p != null ? MicroBatch.packed(B, T, rows.inputs(), rows.targets(), p) : MicroBatch.causal(B, T, rows.inputs(), rows.targets());
        }
        if (p == null) p = Documents.rows(B, T);
        SequenceSplit split = sharding.split(B, T, p.doc(), cp);
        return MicroBatch.shard(rows.inputs(), rows.targets(), p, split, cpRank);
    }
}
