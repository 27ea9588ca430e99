package fourfold.devices.comm;

import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the members of one group share: the collectives in flight (matched by call number, as NCCL
 * matches calls on a communicator) and the point-to-point mailboxes.
 */
final class GroupState {
    final String name;
    final int[] members;
    private final long[] nextSeq;
    private final ConcurrentHashMap<Long, Op> ops = new ConcurrentHashMap<>();
    private final Mailbox[] mail;

    GroupState(String name, int[] members) {
        this.name = name;
        this.members = members.clone();
        this.nextSeq = new long[members.length];
        this.mail = new Mailbox[members.length * members.length];
        for (int i = 0; i < mail.length; i++) mail[i] = new Mailbox();
    }

    int size() {
        return members.length;
    }

    /** The next call number of {@code member}; only that member's driver thread calls this. */
    long nextSeq(int member) {
        return nextSeq[member]++;
    }

    Mailbox mailbox(int src, int dst) {
        return mail[src * members.length + dst];
    }

    /**
     * The collective number {@code seq}, created by the first member to arrive; later members must
     * ask for the same thing or get an error naming both.
     */
    Op join(long seq, OpDesc desc, int member) {
        Op op = ops.computeIfAbsent(seq, s -> new Op(s, desc, member, members.length));
        if (!op.desc.equals(desc)) {
            String what = op.desc.kind() == desc.kind()
                    ? "every member must pass the same count" + (desc.kind() == CommKind.BROADCAST ? " and root" : "") + (desc.op() != null ? " and reduce op" : "")
                    : "members must call collectives on a group in the same order";
            throw new IllegalArgumentException(desc.kind().label() + " #" + seq + " on group " + name + " " + Arrays.toString(members)
                    + ": rank " + members[member] + " asked for " + desc.describe() + " but rank " + members[op.creator]
                    + " asked for " + op.desc.describe() + "; " + what);
        }
        return op;
    }

    void leave(Op op) {
        if (op.leave()) ops.remove(op.seq);
    }

    /** Start of a run: call numbers back to 0 (the previous run may have stopped mid-way). */
    void reset() {
        Arrays.fill(nextSeq, 0);
    }

    /** End of a run, all rank threads stopped: free staging of collectives that never finished and unreceived messages. */
    void releaseLeftovers() {
        for (Op op : ops.values()) op.freeAllStaging();
        ops.clear();
        for (Mailbox m : mail) m.clear();
    }
}
