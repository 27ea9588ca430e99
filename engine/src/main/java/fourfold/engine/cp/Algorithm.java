package fourfold.engine.cp;

/** How the keys and values of other cp ranks reach a rank's queries. */
public enum Algorithm {
    /** Llama 3's choice: all-gather K and V over the cp group (after RoPE), attend once; backward reduce-scatters dK, dV. */
    ALLGATHER("allgather"),
    /** K/V blocks travel around the cp ring, overlapped with the attention of the block in hand; partial results merged by log-sum-exp. */
    RING("ring");

    private final String flag;

    Algorithm(String flag) {
        this.flag = flag;
    }

    public String flag() {
        return flag;
    }

    public static Algorithm parse(String s) {
        for (Algorithm a : values()) if (a.flag.equals(s)) return a;
        return null;
    }
}
