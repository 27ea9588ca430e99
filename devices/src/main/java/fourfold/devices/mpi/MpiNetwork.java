package fourfold.devices.mpi;

import fourfold.devices.Axis;
import fourfold.devices.Device;
import fourfold.devices.Mesh;
import fourfold.devices.Topology;
import fourfold.devices.comm.CommStats;
import fourfold.devices.comm.CommStream;
import fourfold.devices.comm.Interconnect;
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
 * The network of the ranks this process hosts, over Open MPI. A group whose members all live in
 * this process (several devices per process) is an in-process group of {@link Interconnect}, the
 * fastest way there; a group that spans processes is an {@link MpiGroup} on a communicator of its
 * processes. Every process creates the communicators of the groups it takes part in at once, in
 * one global order (groups of all 15 axis combinations, each at its lowest rank), since ranks ask
 * for their groups lazily and not necessarily in the same order.
 */
final class MpiNetwork implements Network {
    /** The communicators of one group that spans processes, and where its members are on them. */
    record Comms(MemorySegment collectives, MemorySegment pointToPoint, MemberAddresses addresses) {}

    private final Mpi mpi;
    private final List<Device> devices;
    private final Topology topology;
    private final CommStats stats;
    private final Trace trace;
    private final long sliceFloats;
    private final Interconnect local;
    private final Map<String, Comms> comms = new HashMap<>();
    private final Map<Integer, CommStream> streams = new HashMap<>();
    private final Map<Integer, PendingSends> pending = new HashMap<>();
    private volatile RunControl run;

    MpiNetwork(Mpi mpi, MemorySegment world, int worldRank, int devicesPerProcess, Mesh mesh, List<Device> devices, Topology topology,
               CommStats stats, Trace trace, long sliceBytes) {
        this.mpi = mpi;
        this.devices = devices;
        this.topology = topology;
        this.stats = stats;
        this.trace = trace;
        this.sliceFloats = sliceBytes / Float.BYTES;
        this.local = new Interconnect(devices, topology, stats, trace, sliceBytes);
        int tagUpperBound = mpi.tagUpperBound();
        Axis[] all = Axis.values();
        int spanning = 0; // the same count on every process: the create call's tag
        for (int mask = 1; mask < 1 << all.length; mask++) {
            List<Axis> axes = new ArrayList<>();
            for (int a = 0; a < all.length; a++) if ((mask & (1 << a)) != 0) axes.add(all[a]);
            Axis[] ax = axes.toArray(Axis[]::new);
            String name = Mesh.groupName(ax);
            for (int first = 0; first < mesh.size(); first++) {
                int[] members = mesh.members(first, ax);
                if (members[0] != first) continue; // each group once, at its lowest rank
                int[] processes = MemberAddresses.processes(members, devicesPerProcess);
                if (processes.length == 1) continue; // inside one process: in-process group
                int tag = spanning++ % (Mpi.TAG_LIMIT + 1);
                if (Arrays.binarySearch(processes, worldRank) < 0) continue;
                MemorySegment c = mpi.createGroup(world, processes, tag);
                if (mpi.size(c) != processes.length) {
                    throw new MpiException("MPI_Comm_create_group for group " + name + " " + Arrays.toString(members) + " gave "
                            + mpi.size(c) + " processes, expected " + processes.length);
                }
                comms.put(key(name, members), new Comms(c, mpi.dup(c), new MemberAddresses(name, members, devicesPerProcess, tagUpperBound)));
            }
        }
        for (int r = 0; r < devices.size(); r++) if (devices.get(r) != null) pending.put(r, new PendingSends());
    }

    private static String key(String name, int[] members) {
        return name + Arrays.toString(members);
    }

    @Override
    public ProcessGroup group(int globalRank, int[] members, String name) {
        int index = Arrays.binarySearch(members, globalRank);
        if (index < 0 || devices.get(globalRank) == null) {
            throw new IllegalArgumentException("rank " + globalRank + " is not hosted by this process or not in group " + name + " " + Arrays.toString(members));
        }
        Comms c = comms.get(key(name, members));
        if (c != null) return new MpiGroup(this, name, members, index, devices.get(globalRank), c);
        if (Arrays.stream(members).allMatch(r -> devices.get(r) != null)) return local.group(globalRank, members, name);
        throw new IllegalArgumentException("rank " + globalRank + " in this process has no MPI group " + name + " " + Arrays.toString(members));
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
        local.beginRun(control);
        run = control;
    }

    @Override
    public void drain(int rank) {
        CommStream s;
        synchronized (this) {
            s = streams.get(rank);
        }
        local.drain(rank);
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
        local.endRun();
        run = null;
    }
}
