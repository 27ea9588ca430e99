package fourfold.devices.comm;

import java.util.concurrent.atomic.AtomicInteger;

/** One collective of one group (its sequence number in the group's call order), shared by its members. */
final class Op {
    final long seq;
    final OpDesc desc;
    /** Group-local rank of the member that arrived first (named in mismatch errors). */
    final int creator;
    final Endpoint[] ep;
    /** The barriers of the direct algorithms (the ring synchronizes through the endpoints alone). */
    final Rendezvous rendezvous;
    private final AtomicInteger left = new AtomicInteger();

    Op(long seq, OpDesc desc, int creator, int size) {
        this.seq = seq;
        this.desc = desc;
        this.creator = creator;
        this.ep = new Endpoint[size];
        this.rendezvous = new Rendezvous(size);
        int steps = 2 * (size - 1);
        for (int i = 0; i < size; i++) ep[i] = new Endpoint(i, steps);
    }

    /** Returns true for the last member to leave. */
    boolean leave() {
        return left.incrementAndGet() == ep.length;
    }

    void freeAllStaging() {
        for (Endpoint e : ep) e.freeStaging();
    }
}
