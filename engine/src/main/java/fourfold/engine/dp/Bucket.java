package fourfold.engine.dp;

import fourfold.devices.comm.CommHandle;
import fourfold.engine.model.Parameter;
import fourfold.engine.tensor.Tensor;

import java.util.List;

/**
 * Parameters whose gradients are reduced together, laid out back to back in one flat buffer
 * (as DDP's buckets), so a single collective covers them. Every rank owns the same chunk index
 * of every bucket: that chunk is what it updates under ZeRO-1/2 and keeps under ZeRO-3.
 */
final class Bucket {
    final int id;
    final List<Parameter> params;
    final long[] offsets;       // element offset of each parameter in the flat buffer
    final long count;           // elements in the bucket
    final List<Integer> units;  // model units whose parameters are here
    final long shardStart, shardLength; // this rank's chunk

    Tensor flatParams;   // full values (ZeRO 0-2: always; ZeRO-3: only while gathered)
    Tensor paramShard;   // ZeRO-3: this rank's chunk of the values
    Tensor flatGrads;    // full gradients (ZeRO 0-1: always; ZeRO 2-3: from backward until reduced)
    Tensor gradShard;    // ZeRO 2-3: this rank's chunk of the reduced gradients
    CommHandle pending;  // the reduction in flight
    Tensor reduceOut;    // ZeRO: where the reduce-scatter leaves this rank's chunk
    int backwardsLeft;   // backwards of its units (over the step's micro-batches) not yet run

    Bucket(int id, List<Parameter> params, List<Integer> units, long shardStart, long shardLength) {
        this.id = id;
        this.params = List.copyOf(params);
        this.units = List.copyOf(units);
        this.offsets = new long[params.size()];
        long off = 0;
        for (int i = 0; i < params.size(); i++) {
            offsets[i] = off;
            off += params.get(i).localNumel();
        }
        this.count = off;
        this.shardStart = shardStart;
        this.shardLength = shardLength;
    }

    /** A view of elements [start, start + length) of a flat (count) buffer. */
    static Tensor range(Tensor flat, long start, long length) {
        return flat.view(Math.toIntExact(flat.numel())).rowsView(Math.toIntExact(start), Math.toIntExact(length));
    }

    /** Points every parameter's values at its place in {@code flat}. */
    void installParams(Tensor flat) {
        for (int i = 0; i < params.size(); i++) {
            Parameter p = params.get(i);
            p.setData(range(flat, offsets[i], p.localNumel()).view(p.localShape()));
        }
    }

    /** Points every parameter's gradient at its place in {@code flat}. */
    void installGrads(Tensor flat) {
        for (int i = 0; i < params.size(); i++) {
            Parameter p = params.get(i);
            p.setGrad(range(flat, offsets[i], p.localNumel()).view(p.localShape()));
        }
    }
}
