package fourfold.devices.comm;

import fourfold.devices.Device;
import fourfold.devices.Topology;
import fourfold.devices.trace.Trace;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The in-process network of one cluster: the devices, the link model, the groups' shared state,
 * the byte accounting and each rank's comm stream. The cluster opens it for a run
 * ({@link #beginRun}) and closes it after every rank thread has stopped ({@link #endRun}).
 */
public final class Interconnect implements Network {
    /** Staging slots per member and collective; two are enough to never deadlock (see Collective), four absorb jitter. */
    static final int SLOTS = 4;
    /** Default slice: 1 MiB, so 4 slots make NCCL's default 4 MiB buffer per peer. */
    public static final long DEFAULT_SLICE_BYTES = 1 << 20;

    private final Device[] devices;
    private final Topology topology;
    private final CommStats stats;
    private final Trace trace;
    private final long sliceFloats;
    private final AlgorithmChoice algorithms;
    private final ConcurrentHashMap<String, GroupState> groups = new ConcurrentHashMap<>();
    private final CommStream[] streams;
    private volatile RunControl run;

    /** Algorithms as {@code -Dfourfold.comm.*} choose them (see {@link AlgorithmChoice}); a bad value fails here, naming the property. */
    public Interconnect(List<Device> devices, Topology topology, CommStats stats, Trace trace, long sliceBytes) {
        this(devices, topology, stats, trace, sliceBytes, AlgorithmChoice.fromSystemProperties());
    }

    /**
     * Reads the {@code -Dfourfold.comm.*} options now, so that a program can report a bad one
     * before it starts anything.
     *
     * @throws IllegalArgumentException naming the property, what it must be and what it was
     */
    public static void checkOptions() {
        AlgorithmChoice.fromSystemProperties();
    }

    Interconnect(List<Device> devices, Topology topology, CommStats stats, Trace trace, long sliceBytes, AlgorithmChoice algorithms) {
        if (sliceBytes < Float.BYTES) throw new IllegalArgumentException("slice must hold at least one float, got " + sliceBytes + " bytes");
        this.devices = devices.toArray(Device[]::new);
        this.topology = topology;
        this.stats = stats;
        this.trace = trace;
        this.sliceFloats = sliceBytes / Float.BYTES;
        this.algorithms = algorithms;
        this.streams = new CommStream[this.devices.length];
    }

    /** The group of {@code globalRank} whose members are {@code members} (mesh order), named {@code name}. */
    @Override
    public ProcessGroup group(int globalRank, int[] members, String name) {
        GroupState st = groups.computeIfAbsent(name + Arrays.toString(members), k -> new GroupState(name, members));
        for (int i = 0; i < members.length; i++) {
            if (members[i] == globalRank) return new InProcessGroup(this, st, i, globalRank, devices[globalRank]);
        }
        throw new IllegalArgumentException("rank " + globalRank + " is not a member of group " + name + " " + Arrays.toString(members));
    }

    Device device(int globalRank) {
        return devices[globalRank];
    }

    Topology topology() {
        return topology;
    }

    CommStats stats() {
        return stats;
    }

    Trace trace() {
        return trace;
    }

    long sliceFloats() {
        return sliceFloats;
    }

    AlgorithmChoice algorithms() {
        return algorithms;
    }

    /** The current run, or an error naming {@code what} when called outside one. */
    RunControl run(String what) {
        RunControl r = run;
        if (r == null) throw new IllegalStateException(what + ": communication happens only inside Cluster.run");
        return r;
    }

    synchronized CommStream stream(int rank) {
        if (streams[rank] == null) streams[rank] = new CommStream(rank);
        return streams[rank];
    }

    @Override
    public void beginRun(RunControl control) {
        for (GroupState g : groups.values()) g.reset();
        run = control;
    }

    /** Waits until {@code rank}'s async collectives have finished (end of its program). */
    @Override
    public void drain(int rank) {
        CommStream s;
        synchronized (this) {
            s = streams[rank];
        }
        RunControl r = run;
        if (s != null && r != null) s.drain(r);
    }

    /**
     * After every rank thread has stopped: ends the comm threads and frees what failed collectives
     * left behind (staging slots, unreceived messages), so device memory is back to what the
     * program itself holds.
     */
    @Override
    public void endRun() throws InterruptedException {
        for (int r = 0; r < streams.length; r++) {
            CommStream s;
            synchronized (this) {
                s = streams[r];
                streams[r] = null;
            }
            if (s != null) s.stop();
        }
        for (GroupState g : groups.values()) g.releaseLeftovers();
        run = null;
    }
}
