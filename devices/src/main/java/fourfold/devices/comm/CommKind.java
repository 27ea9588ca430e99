package fourfold.devices.comm;

/** The kinds of communication, as the byte accounting reports them. */
public enum CommKind {
    ALL_REDUCE("allReduce"),
    REDUCE_SCATTER("reduceScatter"),
    ALL_GATHER("allGather"),
    BROADCAST("broadcast"),
    ALL_TO_ALL("allToAll"),
    BARRIER("barrier"),
    /** Point-to-point: bytes sent by send, bytes received by recv. */
    SEND_RECV("sendRecv");

    private final String label;

    CommKind(String label) {
        this.label = label;
    }

    /** The method name: "allReduce", "reduceScatter", ... */
    public String label() {
        return label;
    }
}
