package fourfold.devices;

import fourfold.devices.comm.CommStats;
import fourfold.devices.comm.Network;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.trace.Tracer;

import java.util.EnumSet;
import java.util.concurrent.ConcurrentHashMap;

/** What one rank's program sees: its place in the mesh, its device, its process groups, its trace. */
public final class Rank {
    private final int rank;
    private final Mesh mesh;
    private final Mesh.Coords coords;
    private final Device device;
    private final Network net;
    private final CommStats stats;
    private final Tracer tracer;
    private final ConcurrentHashMap<EnumSet<Axis>, ProcessGroup> groups = new ConcurrentHashMap<>();

    Rank(int rank, Mesh mesh, Device device, Network net, CommStats stats, Tracer tracer) {
        this.rank = rank;
        this.mesh = mesh;
        this.coords = mesh.coords(rank);
        this.device = device;
        this.net = net;
        this.stats = stats;
        this.tracer = tracer;
    }

    /** The global rank. */
    public int rank() {
        return rank;
    }

    public Mesh.Coords coords() {
        return coords;
    }

    public Device device() {
        return device;
    }

    public Mesh mesh() {
        return mesh;
    }

    /**
     * The group of the ranks that differ from this one only along {@code axes} (e.g. TP, or DP and
     * CP for gradient reduction); members in mesh order. Axes of size 1 give groups of size 1,
     * whose collectives are free no-ops. The same axes always give the same group object.
     */
    public ProcessGroup group(Axis... axes) {
        EnumSet<Axis> set = Mesh.axisSet(axes);
        return groups.computeIfAbsent(set, s -> new TimedGroup(net.group(rank, mesh.members(rank, axes), Mesh.groupName(axes))));
    }

    /** The engine's handle for its own trace spans (no-ops when tracing is off). */
    public Tracer trace() {
        return tracer;
    }

    /** The cluster's byte accounting (all ranks). */
    public CommStats commStats() {
        return stats;
    }

    @Override
    public String toString() {
        return "rank " + rank + " (" + coords + ")";
    }
}
