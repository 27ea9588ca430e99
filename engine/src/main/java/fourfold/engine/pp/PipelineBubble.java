package fourfold.engine.pp;

import fourfold.devices.MemoryTag;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.ReduceOp;
import fourfold.engine.tensor.Scalars;
import fourfold.engine.tensor.Tensor;

/**
 * The pipeline bubble of a step on the simulated clock: the pipeline phase runs from the first
 * compute action of any pp rank to the last one's end; a rank's bubble is the part of that phase
 * its compute lane is idle; the result is the mean over the pp ranks (every member gets it).
 */
public final class PipelineBubble {
    private PipelineBubble() {}

    public static double measure(ProcessGroup pp, Executor.Times times) {
        if (pp.size() == 1) return 0;
        double start, end;
        try (Tensor t = Tensor.of(pp.device(), MemoryTag.COMM, "pp.phase", new float[]{0, 0}, 2)) {
            // float32 buffers: carry the times relative to this rank's start to keep their precision
            double base = times.start();
            double[] phase = Scalars.allReduceSum(pp, pp.device(), new double[]{base});
            double mean = phase[0] / pp.size();
            t.set(0, (float) -(times.start() - mean));
            t.set(1, (float) (times.end() - mean));
            pp.allReduce(t.segment(), ReduceOp.MAX);
            start = mean - t.get(0);
            end = mean + t.get(1);
        }
        double span = end - start;
        double idle = span <= 0 ? 0 : Math.max(0, span - times.busy()) / span;
        return Scalars.allReduceSum(pp, pp.device(), idle) / pp.size();
    }
}
