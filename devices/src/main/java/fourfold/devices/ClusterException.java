package fourfold.devices;

import java.util.Map;

/**
 * A {@link Cluster#run} failed: names the rank that failed first and carries its exception as the
 * cause. The other ranks' exceptions (usually {@link ClusterAbortedException}) are attached as
 * suppressed and available by rank from {@link #rankFailures()}.
 */
public final class ClusterException extends RuntimeException {
    private final int failedRank;
    private final Map<Integer, Throwable> rankFailures;

    public ClusterException(int failedRank, String message, Throwable cause, Map<Integer, Throwable> rankFailures) {
        super(message, cause);
        this.failedRank = failedRank;
        this.rankFailures = Map.copyOf(rankFailures);
    }

    /** The global rank whose failure aborted the run. */
    public int failedRank() {
        return failedRank;
    }

    /** Every rank that ended with an exception, by global rank (the failed rank included). */
    public Map<Integer, Throwable> rankFailures() {
        return rankFailures;
    }
}
