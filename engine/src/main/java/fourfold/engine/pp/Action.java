package fourfold.engine.pp;

/**
 * One step of a pipeline rank's schedule. {@code stage} is the global (virtual) stage in
 * [0, p·v): stage s lives on rank s % p as that rank's local chunk s / p (Megatron's interleaved
 * layout; with v = 1, stage s is rank s). {@code microBatch} is in [0, m).
 *
 * <p>Communication actions name the tensor they move by the compute action it belongs to:
 * SEND_F(s, i) sends the output of F(s, i) to the rank of stage s + 1; RECV_F(s, i) receives the
 * input of F(s, i) from the rank of stage s - 1; SEND_B(s, i) sends the input gradient computed by
 * B or BW of (s, i) to the rank of stage s - 1; RECV_B(s, i) receives the gradient of the output of
 * (s, i) from the rank of stage s + 1. Sends are eager (they never wait for the receiver);
 * receives wait.
 */
public record Action(Kind kind, int stage, int microBatch) {
    public enum Kind {
        /** forward of one micro-batch through one stage */
        F,
        /** backward, input gradients only (zero-bubble schedules); keeps what W needs */
        B,
        /** backward, weight gradients only, of a micro-batch whose B has run */
        W,
        /** B and W together (the fused backward of schedules that do not split them) */
        BW,
        SEND_F, RECV_F, SEND_B, RECV_B;

        public boolean isCompute() {
            return this == F || this == B || this == W || this == BW;
        }
    }

    public Action {
        if (stage < 0 || microBatch < 0) throw new IllegalArgumentException("action " + kind + ": stage and micro-batch must be >= 0, got " + stage + ", " + microBatch);
    }

    public static Action of(Kind kind, int stage, int microBatch) {
        return new Action(kind, stage, microBatch);
    }

    /** Short form for tables: F3 / B3 / W3 / BW3 with the stage as a suffix when a rank holds several (F3.s5). */
    public String label(boolean withStage) {
        String k = switch (kind) {
            case SEND_F -> "sF";
            case RECV_F -> "rF";
            case SEND_B -> "sB";
            case RECV_B -> "rB";
            default -> kind.name();
        };
        return k + microBatch + (withStage ? ".s" + stage : "");
    }
}
