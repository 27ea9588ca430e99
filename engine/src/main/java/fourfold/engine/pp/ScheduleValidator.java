package fourfold.engine.pp;

import fourfold.engine.pp.Action.Kind;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks that every rank's list is a schedule the executor can run: on each stage, each
 * micro-batch has one F, then one BW or one B followed by one W; the receive a compute needs comes
 * before it and the send of what it produced after it; every send has the peer's receive and
 * every receive the peer's send, in the same order between each pair of ranks. Whether the lists
 * together make progress is the dry run's question ({@link DryRun}).
 */
public final class ScheduleValidator {
    private ScheduleValidator() {}

    /** Throws IllegalStateException naming the rank, action index and action of the first problem. */
    public static void check(List<List<Action>> ranks, int p, int m, int v) {
        if (ranks.size() != p) throw new IllegalStateException("invalid schedule: " + ranks.size() + " rank lists for " + p + " pipeline ranks");
        int stages = p * v;
        List<Map<Action, Integer>> where = new ArrayList<>(p);
        for (int r = 0; r < p; r++) where.add(indexActions(ranks.get(r), r, p, m, stages));
        for (int s = 0; s < stages; s++)
            for (int i = 0; i < m; i++) checkMicroBatch(where.get(s % p), s % p, s, i, stages);
        for (int a = 0; a < p; a++)
            for (int b = 0; b < p; b++) checkOrder(ranks, a, b, p);
    }

    private static Map<Action, Integer> indexActions(List<Action> list, int r, int p, int m, int stages) {
        Map<Action, Integer> where = new HashMap<>();
        for (int k = 0; k < list.size(); k++) {
            Action a = list.get(k);
            if (a.stage() >= stages || a.stage() % p != r)
                throw problem(r, k, a, "stage " + a.stage() + " is not on this rank (stage s lives on rank s % " + p + ", " + stages + " stages)");
            if (a.microBatch() >= m) throw problem(r, k, a, "micro-batch " + a.microBatch() + " is not in [0, " + m + ")");
            Integer before = where.putIfAbsent(a, k);
            if (before != null) throw problem(r, k, a, "appears twice (also at index " + before + ")");
        }
        return where;
    }

    private static void checkMicroBatch(Map<Action, Integer> where, int r, int s, int i, int stages) {
        boolean first = s == 0, last = s == stages - 1;
        Integer f = where.get(Action.of(Kind.F, s, i));
        Integer bw = where.get(Action.of(Kind.BW, s, i));
        Integer b = where.get(Action.of(Kind.B, s, i));
        Integer w = where.get(Action.of(Kind.W, s, i));
        if (f == null) throw missing(r, Kind.F, s, i);
        if (bw != null && (b != null || w != null))
            throw problem(r, bw, Action.of(Kind.BW, s, i), "the fused backward and a split B/W of the same micro-batch (index " + (b != null ? b : w) + ")");
        if (bw == null && b == null) throw missing(r, w == null ? Kind.BW : Kind.B, s, i);
        if (b != null && w == null) throw missing(r, Kind.W, s, i);
        int back = bw != null ? bw : b;
        Action backward = bw != null ? Action.of(Kind.BW, s, i) : Action.of(Kind.B, s, i);
        if (back < f) throw problem(r, back, backward, "runs before its forward (index " + f + ")");
        if (w != null && w < b) throw problem(r, w, Action.of(Kind.W, s, i), "runs before its B (index " + b + ")");
        expectComm(where, r, Action.of(Kind.RECV_F, s, i), !first, f, true, "the input of F from stage " + (s - 1));
        expectComm(where, r, Action.of(Kind.SEND_F, s, i), !last, f, false, "the output of F to stage " + (s + 1));
        expectComm(where, r, Action.of(Kind.RECV_B, s, i), !last, back, true, "the output gradient from stage " + (s + 1));
        expectComm(where, r, Action.of(Kind.SEND_B, s, i), !first, back, false, "the input gradient to stage " + (s - 1));
    }

    /** A receive must come before the compute at {@code compute}, a send after it; none where no peer stage exists. */
    private static void expectComm(Map<Action, Integer> where, int r, Action comm, boolean needed, int compute, boolean before, String what) {
        Integer at = where.get(comm);
        if (!needed) {
            if (at != null) throw problem(r, at, comm, "has no peer: stage " + comm.stage() + " is the " + (comm.kind() == Kind.RECV_F || comm.kind() == Kind.SEND_B ? "first" : "last") + " stage");
            return;
        }
        if (at == null) throw missing(r, comm.kind(), comm.stage(), comm.microBatch());
        if (before && at > compute) throw problem(r, at, comm, "comes after the compute that needs " + what + " (index " + compute + ")");
        if (!before && at < compute) throw problem(r, at, comm, "comes before the compute that produces " + what + " (index " + compute + ")");
    }

    /** Rank a's sends to rank b, in a's order, must be the sends rank b's receives from a wait for, in b's order. */
    private static void checkOrder(List<List<Action>> ranks, int a, int b, int p) {
        List<Integer> sendAt = new ArrayList<>(), recvAt = new ArrayList<>();
        List<Action> sender = ranks.get(a), receiver = ranks.get(b);
        for (int k = 0; k < sender.size(); k++)
            if (Communication.isSend(sender.get(k).kind()) && Communication.receiverOf(sender.get(k), p) == b) sendAt.add(k);
        for (int k = 0; k < receiver.size(); k++)
            if (Communication.isReceive(receiver.get(k).kind()) && Communication.senderOf(receiver.get(k), p) == a) recvAt.add(k);
        for (int n = 0; n < Math.min(sendAt.size(), recvAt.size()); n++) {
            Action send = sender.get(sendAt.get(n)), recv = receiver.get(recvAt.get(n));
            if (!Communication.matchingSend(recv).equals(send))
                throw problem(b, recvAt.get(n), recv, "is receive " + n + " from rank " + a + ", whose send " + n + " to rank " + b
                        + " is " + send.label(true) + " (index " + sendAt.get(n) + "): the two ranks disagree on the order of their messages");
        }
        if (sendAt.size() != recvAt.size())
            throw new IllegalStateException("invalid schedule: rank " + a + " sends " + sendAt.size() + " messages to rank " + b + ", which receives " + recvAt.size());
    }

    private static IllegalStateException problem(int rank, int index, Action a, String what) {
        return new IllegalStateException("invalid schedule: rank " + rank + ", action " + index + " (" + a.label(true) + ") " + what);
    }

    private static IllegalStateException missing(int rank, Kind kind, int stage, int microBatch) {
        return new IllegalStateException("invalid schedule: rank " + rank + " has no " + Action.of(kind, stage, microBatch).label(true));
    }
}
