package fourfold.devices.comm;

/**
 * How a collective moves its bytes in process. All-reduce, reduce-scatter and all-gather have a
 * choice ({@link AlgorithmChoice}); broadcast, all-to-all and barrier have one each. Whatever moves them, the result, the simulated
 * time and the byte counts are the ring's (see {@link RingModel}), so the choice only changes how
 * many hand-offs between the members' threads a call takes.
 */
enum CollectiveAlgorithm {
    /** Ring steps (2(n-1) hand-offs for an all-reduce): {@link Collective}. */
    RING("ring"),
    /** All-reduce: every member reads every member's buffer and reduces all of it: {@link DirectCollective}. */
    ONE_SHOT("one-shot"),
    /** All-reduce: member k reduces chunk k from every buffer, then writes it into every peer's buffer. */
    TWO_SHOT("two-shot"),
    /** Reduce-scatter and all-gather: the two halves of two-shot on their own. */
    DIRECT("direct"),
    /** Broadcast: a pipelined chain from the root. */
    CHAIN("chain"),
    /** All-to-all: each member writes into every peer's output. */
    PAIRWISE("pairwise"),
    /** Barrier: each member waits for every member's arrival. */
    ARRIVALS("arrivals");

    private final String label;

    CollectiveAlgorithm(String label) {
        this.label = label;
    }

    /** The name the trace shows ("algorithm" argument of a collective's span). */
    String label() {
        return label;
    }
}
