package fourfold.devices;

/**
 * Which ranks share a node, and the link a message between two ranks crosses. Ranks fill nodes in
 * order (rank / devicesPerNode), so with tp fastest-varying a TP group stays inside one node.
 */
public final class Topology {
    private final HardwareProfile profile;
    private final int worldSize;

    public Topology(HardwareProfile profile, int worldSize) {
        if (worldSize < 1) throw new IllegalArgumentException("topology: world size must be >= 1, got " + worldSize);
        this.profile = profile;
        this.worldSize = worldSize;
    }

    public HardwareProfile profile() {
        return profile;
    }

    public int worldSize() {
        return worldSize;
    }

    public int node(int rank) {
        if (rank < 0 || rank >= worldSize) throw new IllegalArgumentException("topology: rank " + rank + " is outside [0, " + worldSize + ")");
        return rank / profile.devicesPerNode();
    }

    public int nodes() {
        return (worldSize + profile.devicesPerNode() - 1) / profile.devicesPerNode();
    }

    public boolean sameNode(int a, int b) {
        return node(a) == node(b);
    }

    /** The link from rank {@code from} to rank {@code to}: NVLink-like inside a node, network between nodes. */
    public LinkSpec link(int from, int to) {
        return sameNode(from, to) ? profile.intraNode() : profile.interNode();
    }
}
