package fourfold.devices.mpi;

import fourfold.devices.Device;
import fourfold.devices.Hosting;
import fourfold.devices.Mesh;
import fourfold.devices.Topology;
import fourfold.devices.comm.CommStats;
import fourfold.devices.comm.Network;
import fourfold.devices.trace.Trace;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * One MPI process of a cluster spread over processes (and hosts) by {@code mpirun}: with k devices
 * per process, process p hosts the mesh ranks [p·k, (p+1)·k), so the rank-to-mesh mapping is the
 * in-process one and, tp being innermost, a tp group with tp dividing k stays inside a process.
 * {@link #start} initializes MPI with MPI_THREAD_MULTIPLE (the driver and comm threads of a rank
 * call MPI at once) and refuses to go on without it; {@link #close} finalizes it.
 */
public final class MpiHosting implements Hosting, AutoCloseable {
    private final Mpi mpi;
    private final int worldRank;
    private final int worldSize;
    private final int devicesPerProcess;
    /** A private copy of MPI_COMM_WORLD for metrics and the trace, never mixed with the groups' traffic. */
    private final MemorySegment control;
    private boolean closed;

    private MpiHosting(Mpi mpi, int devicesPerProcess) {
        if (devicesPerProcess < 1) throw new IllegalArgumentException("devices per process must be >= 1, got " + devicesPerProcess);
        this.mpi = mpi;
        this.devicesPerProcess = devicesPerProcess;
        int granted = mpi.initialized() ? Mpi.THREAD_MULTIPLE : mpi.initThread();
        if (granted < Mpi.THREAD_MULTIPLE) {
            throw new MpiException("Open MPI granted thread level " + granted + ", fourfold needs MPI_THREAD_MULTIPLE (3): a rank's driver"
                    + " and comm threads call MPI at once; use an Open MPI built with thread support (Debian's is)");
        }
        mpi.errorsReturn(mpi.commWorld);
        this.worldRank = mpi.rank(mpi.commWorld);
        this.worldSize = mpi.size(mpi.commWorld);
        this.control = mpi.dup(mpi.commWorld);
    }

    /** Initializes MPI (once per JVM) and returns this process's place in the job, one device per process. */
    public static MpiHosting start() {
        return start(1);
    }

    /** As {@link #start()}, with {@code devicesPerProcess} consecutive mesh ranks in each process. */
    public static MpiHosting start(int devicesPerProcess) {
        return new MpiHosting(Mpi.load(), devicesPerProcess);
    }

    /** Whether this JVM was started by Open MPI's mpirun (its environment says so). */
    public static boolean underMpirun() {
        return System.getenv("OMPI_COMM_WORLD_SIZE") != null;
    }

    /** MPI processes on this host (mpirun tells each process), 1 when unknown. */
    public static int processesOnThisHost() {
        try {
            return Math.max(1, Integer.parseInt(System.getenv().getOrDefault("OMPI_COMM_WORLD_LOCAL_SIZE", "1")));
        } catch (NumberFormatException e) {
            return 1;
        }
    }

    public int worldRank() {
        return worldRank;
    }

    public int worldSize() {
        return worldSize;
    }

    public int devicesPerProcess() {
        return devicesPerProcess;
    }

    @Override
    public boolean hosts(int rank) {
        return rank / devicesPerProcess == worldRank;
    }

    @Override
    public Network network(Mesh mesh, List<Device> devices, Topology topology, CommStats stats, Trace trace, long sliceBytes) {
        if (mesh.size() != (long) worldSize * devicesPerProcess) {
            throw new MpiException("the layout " + mesh + " has " + mesh.size() + " devices but " + worldSize + " MPI process(es) of "
                    + devicesPerProcess + " device(s) each were started; " + processesHint(mesh.size(), devicesPerProcess));
        }
        return new MpiNetwork(mpi, mpi.commWorld, worldRank, devicesPerProcess, mesh, devices, topology, stats, trace, sliceBytes);
    }

    /** How to start a job of {@code devices} devices with {@code devicesPerProcess} in each process. */
    public static String processesHint(int devices, int devicesPerProcess) {
        if (devices % devicesPerProcess != 0) {
            return "--devices-per-process " + devicesPerProcess + " does not divide the layout's " + devices + " devices; use a divisor of " + devices;
        }
        return "start mpirun -np " + devices / devicesPerProcess + " for " + devices + " devices"
                + (devicesPerProcess > 1 ? " with --devices-per-process " + devicesPerProcess : " (one process per device)");
    }

    @Override
    public double[] maxOverProcesses(double... values) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment in = a.allocateFrom(ValueLayout.JAVA_DOUBLE, values);
            MemorySegment out = a.allocate(ValueLayout.JAVA_DOUBLE, Math.max(1, values.length));
            mpi.allReduceMax(in, out, values.length, control);
            return values.length == 0 ? values : out.toArray(ValueLayout.JAVA_DOUBLE);
        }
    }

    /** Every process sends its events to rank 0, which adds them to its own trace. */
    @Override
    public void gatherTrace(Trace trace) {
        if (!trace.enabled()) return;
        List<byte[]> all = gatherToRoot(worldRank == 0 ? new byte[0] : trace.exportEvents());
        for (int r = 1; r < all.size(); r++) trace.importEvents(all.get(r));
    }

    /** MPI_Gather of the lengths, then MPI_Gatherv of the bytes, to world rank 0. */
    @Override
    public List<byte[]> gatherToRoot(byte[] mine) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment len = a.allocateFrom(ValueLayout.JAVA_INT, mine.length);
            MemorySegment lens = a.allocate(ValueLayout.JAVA_INT, worldSize);
            mpi.gatherInts(len, lens, 0, control);
            int[] counts = lens.toArray(ValueLayout.JAVA_INT);
            int[] displs = new int[worldSize];
            long total = 0;
            for (int r = 0; r < worldSize; r++) {
                displs[r] = Math.toIntExact(total);
                total += worldRank == 0 ? counts[r] : 0;
            }
            MemorySegment send = a.allocate(Math.max(1, mine.length));
            MemorySegment.copy(mine, 0, send, ValueLayout.JAVA_BYTE, 0, mine.length);
            MemorySegment recv = a.allocate(Math.max(1, total));
            mpi.gatherBytes(send, mine.length, recv, a.allocateFrom(ValueLayout.JAVA_INT, counts), a.allocateFrom(ValueLayout.JAVA_INT, displs), 0, control);
            if (worldRank != 0) return List.of();
            List<byte[]> all = new ArrayList<>(worldSize);
            for (int r = 0; r < worldSize; r++) all.add(recv.asSlice(displs[r], counts[r]).toArray(ValueLayout.JAVA_BYTE));
            return all;
        }
    }

    /** Ends the whole job at once (every process), with {@code code} as its exit status. */
    public void abort(int code) {
        mpi.abort(code);
    }

    /** MPI_Finalize; call it only after a run that succeeded on this process. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (!mpi.finalized()) mpi.finalizeMpi();
    }
}
