package fourfold.devices.comm;

/**
 * How the ranks of a cluster reach each other: the in-process {@link Interconnect}, or a
 * transport between processes (Open MPI). The cluster opens it for each run and closes it after
 * every rank thread of this process has stopped.
 */
public interface Network {
    /** The group of {@code globalRank} whose members are {@code members} (mesh order), named {@code name}. */
    ProcessGroup group(int globalRank, int[] members, String name);

    void beginRun(RunControl control);

    /** Waits until {@code rank}'s async collectives have finished (end of its program). */
    void drain(int rank);

    /** After every rank thread has stopped: ends comm threads and frees what failed operations left behind. */
    void endRun() throws InterruptedException;
}
