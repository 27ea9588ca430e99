package fourfold.devices;

import fourfold.devices.comm.CommStats;
import fourfold.devices.comm.Interconnect;
import fourfold.devices.comm.Network;
import fourfold.devices.trace.Trace;

import java.util.List;

/**
 * Which ranks of a mesh this process hosts and how they reach the others. The default hosts every
 * rank and connects them in process ({@link Interconnect}); a multi-process transport (Open MPI)
 * hosts a subset and connects them to the ranks of other processes.
 */
public interface Hosting {
    /** All ranks in this process, joined by the in-process interconnect. */
    Hosting IN_PROCESS = new Hosting() {
        @Override
        public boolean hosts(int rank) {
            return true;
        }

        @Override
        public Network network(Mesh mesh, List<Device> devices, Topology topology, CommStats stats, Trace trace, long sliceBytes) {
            return new Interconnect(devices, topology, stats, trace, sliceBytes);
        }
    };

    boolean hosts(int rank);

    /** The network of this process's ranks; {@code devices} is indexed by global rank, null where not hosted here. */
    Network network(Mesh mesh, List<Device> devices, Topology topology, CommStats stats, Trace trace, long sliceBytes);

    /**
     * Element-wise maximum of {@code values} over every process (metrics such as the slowest
     * device's step time, which no single process sees). Moves no simulated bytes and takes no
     * simulated time. Under a multi-process transport every hosted rank must call it, in the
     * same order; in process it returns its argument.
     */
    default double[] maxOverProcesses(double... values) {
        return values;
    }

    /**
     * Every process's {@code mine}, in process order, on the process that hosts rank 0 (an empty
     * list elsewhere): per-device figures that only the device's own process measured. Every
     * process calls it, in the same order; in process it returns {@code mine} alone.
     */
    default List<byte[]> gatherToRoot(byte[] mine) {
        return List.of(mine);
    }

    /** Moves the other processes' trace events into the trace of the process that hosts rank 0 (every process calls it). */
    default void gatherTrace(Trace trace) {}
}
