package fourfold.devices.comm;

import java.util.ArrayList;
import java.util.List;

/**
 * The points every member of one collective passes together: the direct algorithms' barriers
 * (everyone has published its buffers; everyone has finished reading its peers'). The last member
 * to reach a point wakes the others once, where waiting on each peer in turn could wake a member
 * up to n-1 times; on a host with fewer cores than members every wake-up is a context switch.
 */
final class Rendezvous {
    /** Points each member has reached (counting the one it may be waiting at). */
    private final long[] reached;
    private long total;
    private int waiters;

    Rendezvous(int size) {
        this.reached = new long[size];
    }

    /**
     * Marks {@code member} at its next point and waits until every member is there, for at most
     * the run's timeout; the message names the members that are not, and says they were expected
     * {@code what} ("to join", ...).
     */
    synchronized void pass(int member, Collective who, String what) {
        long point = ++reached[member];
        total++;
        long everyone = point * reached.length;
        if (total >= everyone) {
            if (waiters > 0) notifyAll();
            return;
        }
        // No member passes point p before all have reached it, so total >= p * n means all are at p.
        long deadline = who.run.deadline();
        waiters++;
        try {
            while (total < everyone) who.run.waitOn(this, deadline, () -> who.timeoutMessage(behind(point), what), who.label);
        } finally {
            waiters--;
        }
    }

    private List<Integer> behind(long point) {
        List<Integer> members = new ArrayList<>();
        for (int m = 0; m < reached.length; m++) if (reached[m] < point) members.add(m);
        return members;
    }
}
