package fourfold.devices.comm;

/**
 * An async collective in flight on the rank's comm lane. {@link #await()} blocks until it has
 * finished, rethrows its failure, and moves the compute lane's simulated clock to the
 * collective's end (max of the two), which is how overlap shows up in step time.
 */
public interface CommHandle {
    /** Waits for completion; idempotent. */
    void await();

    boolean isDone();

    /** A handle whose work runs at the first {@link #await()}: a receive posted now and completed when awaited. */
    static CommHandle onAwait(Runnable work) {
        return new CommHandle() {
            private boolean done;

            @Override
            public void await() {
                if (done) return;
                done = true;
                work.run();
            }

            @Override
            public boolean isDone() {
                return done;
            }
        };
    }

    /** A handle that is already complete (collectives on groups of size 1). */
    static CommHandle completed() {
        return Completed.INSTANCE;
    }

    enum Completed implements CommHandle {
        INSTANCE;

        @Override
        public void await() {}

        @Override
        public boolean isDone() {
            return true;
        }
    }
}
