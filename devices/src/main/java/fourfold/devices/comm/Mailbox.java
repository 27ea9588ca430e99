package fourfold.devices.comm;

import fourfold.devices.DeviceMemory;

import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * Messages from one group member to another (point-to-point). Sends are eager: the sender copies
 * into a staging block in the receiver's memory and returns, so pipeline schedules in which both
 * neighbours send before they receive cannot deadlock. Per tag, messages arrive in send order.
 */
final class Mailbox {
    record Message(int tag, DeviceMemory.Block block, long floats, double sendTime) {}

    private final ArrayDeque<Message> queue = new ArrayDeque<>();

    synchronized void put(Message m) {
        queue.addLast(m);
        notifyAll();
    }

    synchronized Message take(int tag, RunControl run, RunControl.TimeoutMessage timeout, String where) {
        long deadline = run.deadline();
        while (true) {
            for (Iterator<Message> it = queue.iterator(); it.hasNext(); ) {
                Message m = it.next();
                if (m.tag() == tag) {
                    it.remove();
                    return m;
                }
            }
            run.waitOn(this, deadline, timeout, where);
        }
    }

    /** Frees messages nobody received (end of a run). */
    synchronized void clear() {
        for (Message m : queue) m.block().close();
        queue.clear();
    }
}
