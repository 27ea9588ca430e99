package fourfold.engine.pp;

import fourfold.devices.MemoryTag;
import fourfold.devices.SimClock;
import fourfold.devices.comm.CommHandle;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.trace.Tracer;
import fourfold.engine.tensor.Tensor;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs one pipeline rank's action list on its chunks: the step of every layout (with pp = 1 the
 * list is F, BW per micro-batch). Activations and gradients cross stages by point-to-point on the
 * pp group: a RECV posts an irecv that the compute needing it awaits, a SEND is eager; each
 * tensor is freed as soon as it has been consumed. Times each compute action on the simulated
 * clock (the pipeline phase and the busy time of the compute lane, from which the bubble follows)
 * and, with tracing on, names it on the compute lane ("F3 s1", "B3 s1", "W3 s1", "BW3 s1").
 */
public final class Executor {
    private final ProcessGroup pp;
    private final List<StageWork> chunks; // local chunk c = global stage c·p + rank
    private final int stages;
    private final Tracer tracer;           // null: no trace

    /** Simulated times of one run: the first compute's start, the last one's end, and the compute lane's busy time in between. */
    public record Times(double start, double end, double busy) {}

    public Executor(ProcessGroup pp, List<StageWork> chunks, Tracer tracer) {
        this.pp = pp;
        this.chunks = List.copyOf(chunks);
        this.stages = pp.size() * chunks.size();
        this.tracer = tracer;
    }

    private record Key(int stage, int microBatch) {}

    private StageWork chunk(int stage) {
        return chunks.get(stage / pp.size());
    }

    /**
     * Message tags: one per (sending stage, micro-batch, direction), unique within a step while
     * 2 x stages x micro-batches <= 32768, the tag range every MPI implementation accepts. Past
     * that they repeat, which is still safe: a tag comes back only after far more messages than
     * a pair of ranks ever has in flight, and messages of one tag arrive in order.
     */
    private int tag(int stage, int microBatch, boolean backward) {
        return (int) ((((long) microBatch * stages + stage) * 2 + (backward ? 1 : 0)) % TAGS);
    }

    private static final int TAGS = 1 << 15;

    private record Posted(Tensor buffer, CommHandle handle) {}

    /** Runs {@code actions} (this rank's list from a {@link Schedule}) to the end. */
    public Times run(List<Action> actions) {
        Map<Key, Posted> inputs = new HashMap<>(), outputGrads = new HashMap<>();
        Map<Key, Tensor> outputs = new HashMap<>(), inputGrads = new HashMap<>();
        SimClock clock = pp.device().clock();
        double start = Double.NaN, end = 0, busy = 0;
        int p = pp.size();
        try {
            for (Action a : actions) {
                int s = a.stage(), i = a.microBatch();
                Key k = new Key(s, i);
                switch (a.kind()) {
                    case RECV_F -> inputs.put(k, post(s, i, (s - 1) % p, tag(s - 1, i, false)));
                    case RECV_B -> outputGrads.put(k, post(s, i, (s + 1) % p, tag(s + 1, i, true)));
                    case SEND_F -> {
                        pp.isend(outputs.remove(k).segment(), (s + 1) % p, tag(s, i, false));
                        chunk(s).sent(i);
                    }
                    case SEND_B -> {
                        try (Tensor g = inputGrads.remove(k)) {
                            pp.isend(g.segment(), (s - 1) % p, tag(s, i, true));
                        }
                    }
                    default -> {
                        Tensor in = a.kind() == Action.Kind.F ? await(inputs.remove(k)) : a.kind() == Action.Kind.W ? null : await(outputGrads.remove(k));
                        double t0 = clock.now();
                        if (Double.isNaN(start)) start = t0;
                        try (Tensor consumed = in; Tracer.Span span = tracer == null ? null : tracer.span(a.kind() + "" + i + " s" + s)) {
                            Tensor out = compute(a, chunk(s), in);
                            if (out != null) (a.kind() == Action.Kind.F ? outputs : inputGrads).put(k, out);
                        }
                        end = clock.now();
                        busy += end - t0;
                    }
                }
            }
        } finally {
            for (Posted x : inputs.values()) x.buffer().close();
            for (Posted x : outputGrads.values()) x.buffer().close();
            for (Tensor t : inputGrads.values()) t.close();
        }
        return new Times(Double.isNaN(start) ? clock.now() : start, end, busy);
    }

    private static Tensor compute(Action a, StageWork w, Tensor in) {
        int i = a.microBatch();
        return switch (a.kind()) {
            case F -> w.forward(i, in);
            case BW -> w.backward(i, in);
            case B -> w.backwardInput(i, in);
            case W -> {
                w.backwardWeights(i);
                yield null;
            }
            default -> throw new IllegalArgumentException("not a compute action: " + a);
        };
    }

    private Posted post(int stage, int microBatch, int src, int tag) {
        int[] shape = chunk(stage).boundaryShape(microBatch);
        Tensor buf = Tensor.empty(pp.device(), MemoryTag.ACTIVATIONS, "pp.recv s" + stage + " mb" + microBatch, shape);
        return new Posted(buf, pp.irecv(buf.segment(), src, tag));
    }

    /** The posted receive's tensor, once arrived; null when nothing was received (first or last stage). */
    private static Tensor await(Posted x) {
        if (x == null) return null;
        x.handle().await();
        return x.buffer();
    }
}
