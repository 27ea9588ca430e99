package fourfold.engine.pp;

import fourfold.engine.pp.Action.Kind;

import java.util.ArrayList;
import java.util.List;

/**
 * Adds a rank's sends and receives to its compute order: each receive right before the compute
 * that needs it, each send right after the compute that produced it. Every schedule builds its
 * compute order and lets this place the communication, so all schedules place it the same way.
 */
final class Communication {
    private Communication() {}

    /** @param compute F / B / W / BW in run order; {@code stages} = p·v, the number of global stages */
    static List<Action> around(List<Action> compute, int stages) {
        List<Action> out = new ArrayList<>(compute.size() * 2);
        for (Action a : compute) {
            int s = a.stage(), i = a.microBatch();
            boolean first = s == 0, last = s == stages - 1;
            switch (a.kind()) {
                case F -> {
                    if (!first) out.add(Action.of(Kind.RECV_F, s, i));
                    out.add(a);
                    if (!last) out.add(Action.of(Kind.SEND_F, s, i));
                }
                case B, BW -> {
                    if (!last) out.add(Action.of(Kind.RECV_B, s, i));
                    out.add(a);
                    if (!first) out.add(Action.of(Kind.SEND_B, s, i));
                }
                case W -> out.add(a);
                default -> throw new IllegalArgumentException("compute order holds a communication action: " + a);
            }
        }
        return out;
    }

    /** The rank that receives what {@code send} sends (SEND_F goes to stage s + 1, SEND_B to s - 1). */
    static int receiverOf(Action send, int p) {
        return switch (send.kind()) {
            case SEND_F -> (send.stage() + 1) % p;
            case SEND_B -> (send.stage() - 1) % p;
            default -> throw new IllegalArgumentException("not a send: " + send);
        };
    }

    /** The rank that sends what {@code recv} waits for (RECV_F from stage s - 1, RECV_B from s + 1). */
    static int senderOf(Action recv, int p) {
        return switch (recv.kind()) {
            case RECV_F -> (recv.stage() - 1) % p;
            case RECV_B -> (recv.stage() + 1) % p;
            default -> throw new IllegalArgumentException("not a receive: " + recv);
        };
    }

    /** The send that {@code recv} waits for: RECV_F(s, i) takes SEND_F(s - 1, i), RECV_B(s, i) takes SEND_B(s + 1, i). */
    static Action matchingSend(Action recv) {
        return switch (recv.kind()) {
            case RECV_F -> Action.of(Kind.SEND_F, recv.stage() - 1, recv.microBatch());
            case RECV_B -> Action.of(Kind.SEND_B, recv.stage() + 1, recv.microBatch());
            default -> throw new IllegalArgumentException("not a receive: " + recv);
        };
    }

    static boolean isSend(Kind k) {
        return k == Kind.SEND_F || k == Kind.SEND_B;
    }

    static boolean isReceive(Kind k) {
        return k == Kind.RECV_F || k == Kind.RECV_B;
    }
}
