package fourfold.devices.mpi;

import fourfold.devices.Axis;
import fourfold.devices.Device;
import fourfold.devices.Mesh;
import fourfold.devices.Topology;
import fourfold.devices.comm.CommStats;
import fourfold.devices.comm.CommStream;
import fourfold.devices.comm.Network;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.RunControl;
import fourfold.devices.trace.Trace;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The network of the ranks this process hosts, over Open MPI. Every process builds the
 * communicators of all 15 axis combinations at once, in one fixed order (MPI_Comm_split is
 * collective over all processes, while ranks ask for their groups lazily and not necessarily in
 * the same order).
 */
final class MpiNetwork implements Network {
    private record Comms(MemorySegment collectives, MemorySegment pointToPoint) {}

    private final Mpi mpi;
    private final List<Device> devices;
    private final Topology topology;
    private final CommStats stats;
    private final Trace trace;
    private final long sliceFloats;
    private final Map<String, Comms> comms = new HashMap<>();
    private final Map<Integer, CommStream> streams = new HashMap<>();
    private final Map<Integer, PendingSends> pending = new HashMap<>();
    private volatile RunControl run;

    MpiNetwork(Mpi mpi, MemorySegment world, int worldRank, Mesh mesh, List<Device> devices, Topology topology, CommStats stats,
               Trace trace, long sliceBytes) {
        this.mpi = mpi;
        this.devices = devices;
        this.topology = topology;
        this.stats = stats;
        this.trace = trace;
        this.sliceFloats = sliceBytes / Float.BYTES;
        Axis[] all = Axis.values();
        for (int mask = 1; mask < 1 << all.length; mask++) {
            List<Axis> axes = new ArrayList<>();
            for (int a = 0; a < all.length; a++) if ((mask & (1 << a)) != 0) axes.add(all[a]);
            Axis[] ax = axes.toArray(Axis[]::new);
            int[] members = mesh.members(worldRank, ax);
            int key = Arrays.binarySearch(members, worldRank);
            MemorySegment c = mpi.split(world, members[0], key);
            if (mpi.size(c) != members.length || mpi.rank(c) != key) {
                throw new MpiException("MPI_Comm_split for group " + Mesh.groupName(ax) + " gave rank " + mpi.rank(c) + " of " + mpi.size(c)
                        + ", expected " + key + " of " + members.length);
            }
            comms.put(key(Mesh.groupName(ax), members), new Comms(c, mpi.dup(c)));
        }
        for (int r = 0; r < devices.size(); r++) if (devices.get(r) != null) pending.put(r, new PendingSends());
    }

    private static String key(String name, int[] members) {
        return name + Arrays.toString(members);
    }

    @Override
    public ProcessGroup group(int globalRank, int[] members, String name) {
        Comms c = comms.get(key(name, members));
        int index = Arrays.binarySearch(members, globalRank);
        if (c == null || index < 0 || devices.get(globalRank) == null) {
            throw new IllegalArgumentException("rank " + globalRank + " in this process has no MPI group " + name + " " + Arrays.toString(members));
        }
        return new MpiGroup(this, name, members, index, devices.get(globalRank), c.collectives(), c.pointToPoint());
    }

    Mpi mpi() {
        return mpi;
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

    PendingSends pendingSends(int rank) {
        return pending.get(rank);
    }

    RunControl run(String what) {
        RunControl r = run;
        if (r == null) throw new IllegalStateException(what + ": communication happens only inside Cluster.run");
        return r;
    }

    synchronized CommStream stream(int rank) {
        return streams.computeIfAbsent(rank, CommStream::new);
    }

    @Override
    public void beginRun(RunControl control) {
        run = control;
    }

    @Override
    public void drain(int rank) {
        CommStream s;
        synchronized (this) {
            s = streams.get(rank);
        }
        RunControl r = run;
        if (r == null) return;
        if (s != null) s.drain(r);
        pending.get(rank).drain(mpi, r);
    }

    @Override
    public void endRun() throws InterruptedException {
        List<CommStream> all;
        synchronized (this) {
            all = new ArrayList<>(streams.values());
            streams.clear();
        }
        for (CommStream s : all) s.stop();
        run = null;
    }
}
