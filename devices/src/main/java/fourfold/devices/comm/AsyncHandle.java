package fourfold.devices.comm;

import fourfold.devices.ClusterAbortedException;
import fourfold.devices.KernelTimes;
import fourfold.devices.SimClock;

/** The handle of an async collective: completed by the comm stream, awaited by the driver. */
public final class AsyncHandle implements CommHandle {
    private final SimClock clock;
    private final RunControl run;
    private final String label;
    private boolean done;
    private Throwable error;
    private double end;

    public AsyncHandle(SimClock clock, RunControl run, String label) {
        this.clock = clock;
        this.run = run;
        this.label = label;
    }

    public synchronized void complete(double endTime) {
        end = endTime;
        done = true;
        notifyAll();
    }

    public synchronized void fail(Throwable t) {
        error = t;
        done = true;
        notifyAll();
    }

    @Override
    public synchronized boolean isDone() {
        return done;
    }

    @Override
    public void await() {
        double e;
        synchronized (this) {
            while (!done) {
                run.checkAborted(label);
                long t0 = System.nanoTime();
                try {
                    wait(RunControl.POLL_MILLIS);
                    KernelTimes.waited(System.nanoTime() - t0);
                } catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                    throw new ClusterAbortedException(-1, label + ": await interrupted");
                }
            }
            if (error instanceof RuntimeException r) throw r;
            if (error instanceof Error r) throw r;
            if (error != null) throw new RuntimeException(label + " failed", error);
            e = end;
        }
        clock.advanceTo(e); // the compute lane waits for the comm lane
    }
}
