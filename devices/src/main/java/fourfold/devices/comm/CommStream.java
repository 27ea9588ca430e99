package fourfold.devices.comm;

import java.util.concurrent.LinkedBlockingQueue;

/**
 * A rank's communication stream: one thread that runs the rank's async collectives one after
 * another, in issue order, like a CUDA stream dedicated to NCCL. Lives for one run.
 */
public final class CommStream {
    private static final Runnable STOP = () -> {};

    private final LinkedBlockingQueue<Runnable> queue = new LinkedBlockingQueue<>();
    private final Thread thread;
    private int pending;

    public CommStream(int rank) {
        thread = Thread.ofPlatform().name("fourfold-comm-" + rank).daemon(true).start(this::loop);
    }

    public void submit(Runnable task) {
        synchronized (this) {
            pending++;
        }
        queue.add(task);
    }

    private void loop() {
        while (true) {
            Runnable task;
            try {
                task = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            if (task == STOP) return;
            try {
                task.run(); // tasks catch their own failures and report them to the run
            } finally {
                synchronized (this) {
                    pending--;
                    notifyAll();
                }
            }
        }
    }

    /** Waits until every submitted task has finished; returns early when the run is aborted (queued tasks then fail fast). */
    public synchronized void drain(RunControl run) {
        while (pending > 0 && !run.aborted()) {
            try {
                wait(RunControl.POLL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Lets queued tasks finish, then ends the thread. */
    public void stop() throws InterruptedException {
        queue.add(STOP);
        thread.join();
    }

    boolean isAlive() {
        return thread.isAlive();
    }
}
