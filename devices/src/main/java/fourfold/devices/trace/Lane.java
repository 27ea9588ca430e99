package fourfold.devices.trace;

/** A row (Chrome trace {@code tid}) of one device: what runs on it. */
public enum Lane {
    /** Kernels and the engine's own spans ("forward layer 3"): the compute stream. */
    COMPUTE(0, "compute"),
    /** Blocking collectives and receives, issued by the rank's driver. */
    COMM(1, "comm"),
    /** Async collectives on the rank's communication stream, overlapping compute. */
    COMM_ASYNC(2, "comm async");

    private final int tid;
    private final String label;

    Lane(int tid, String label) {
        this.tid = tid;
        this.label = label;
    }

    public int tid() {
        return tid;
    }

    public String label() {
        return label;
    }
}
