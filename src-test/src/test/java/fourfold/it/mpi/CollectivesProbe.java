package fourfold.it.mpi;

import fourfold.devices.Axis;
import fourfold.devices.Cluster;
import fourfold.devices.ClusterConfig;
import fourfold.devices.DeviceMemory;
import fourfold.devices.MemoryTag;
import fourfold.devices.Mesh;
import fourfold.devices.Rank;
import fourfold.devices.comm.CommHandle;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.ReduceOp;
import fourfold.devices.mpi.MpiHosting;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Every collective of {@link ProcessGroup} on a group of 3 (uneven chunks, an empty chunk, several
 * slices per chunk), with what each rank ends with written as exact bit patterns: its buffers, its
 * simulated clock and its byte counters. Run in process by the test and under mpirun by
 * {@link #main}; the two must agree bit for bit.
 */
final class CollectivesProbe {
    static final Mesh MESH = new Mesh(3, 1, 1, 1);
    /** 4-float slices: the reduce-scatter of 40 floats moves each chunk in several rounds. */
    static final ClusterConfig CONFIG = ClusterConfig.defaults().withMemoryPerDevice(8L << 20).withThreadsPerDevice(1).withSliceBytes(16);

    private CollectivesProbe() {}

    /** {@code mpirun -np 3 java ... CollectivesProbe DIR}: each process writes DIR/rank-N.txt. */
    public static void main(String[] args) throws Exception {
        try (MpiHosting mpi = MpiHosting.start()) {
            List<String> lines;
            try (Cluster cluster = new Cluster(MESH, CONFIG, mpi)) {
                lines = cluster.run(CollectivesProbe::program).get(mpi.worldRank());
            }
            Files.write(Path.of(args[0]).resolve("rank-" + mpi.worldRank() + ".txt"), lines);
        }
    }

    static List<String> program(Rank rank) {
        ProcessGroup g = rank.group(Axis.DP);
        int i = g.rank();
        List<String> out = new ArrayList<>();
        try (Buffers b = new Buffers(rank.device().memory())) {
            for (ReduceOp op : ReduceOp.values()) {
                MemorySegment x = b.filled(40, i);
                g.allReduce(x, op);
                out.add("allReduce " + op + " " + bits(x));
            }
            MemorySegment in = b.filled(40, i);
            MemorySegment chunk = b.empty(ProcessGroup.chunk(40, 3, i).length());
            g.reduceScatter(in, chunk);
            out.add("reduceScatter 40 " + bits(chunk) + " input unchanged " + bits(in).equals(bits(b.filled(40, i))));
            MemorySegment tiny = b.empty(ProcessGroup.chunk(2, 3, i).length()); // member 2 gets nothing
            g.reduceScatter(b.filled(2, i), tiny);
            out.add("reduceScatter 2 " + bits(tiny));
            MemorySegment gathered = b.empty(10);
            g.allGather(b.filled(ProcessGroup.chunk(10, 3, i).length(), i), gathered);
            out.add("allGather 10 " + bits(gathered));
            MemorySegment bc = b.filled(7, i);
            g.broadcast(bc, 1);
            out.add("broadcast from 1 " + bits(bc));
            MemorySegment a2a = b.empty(9);
            g.allToAll(b.filled(9, i), a2a);
            out.add("allToAll 9 " + bits(a2a));
            g.send(b.filled(5, i), (i + 1) % 3, 7);
            MemorySegment got = b.empty(5);
            g.recv(got, (i + 2) % 3, 7);
            out.add("send/recv " + bits(got));
            // Async collectives on the comm stream while the driver runs a blocking one on the same group.
            MemorySegment ar = b.filled(40, i), rsIn = b.filled(11, i), rsOut = b.empty(ProcessGroup.chunk(11, 3, i).length());
            MemorySegment agOut = b.empty(11);
            CommHandle h1 = g.allReduceAsync(ar, ReduceOp.SUM);
            CommHandle h2 = g.reduceScatterAsync(rsIn, rsOut);
            CommHandle h3 = g.allGatherAsync(b.filled(ProcessGroup.chunk(11, 3, i).length(), i), agOut);
            MemorySegment blocking = b.filled(13, i);
            g.allReduce(blocking, ReduceOp.MAX);
            h1.await();
            h2.await();
            h3.await();
            out.add("async " + bits(ar) + " | " + bits(rsOut) + " | " + bits(agOut) + " | " + bits(blocking));
            g.barrier();
        }
        out.add("clock " + Long.toHexString(Double.doubleToLongBits(rank.device().clock().now()))
                + " comm lane " + Long.toHexString(Double.doubleToLongBits(rank.device().clock().commLaneFree())));
        out.add("bytes sent " + rank.commStats().bytesSent(rank.rank()) + " received " + rank.commStats().bytesReceived(rank.rank()));
        return out;
    }

    private static String bits(MemorySegment s) {
        StringBuilder b = new StringBuilder();
        for (float f : s.toArray(ValueLayout.JAVA_FLOAT)) b.append(Integer.toHexString(Float.floatToRawIntBits(f))).append(' ');
        return b.toString().strip();
    }

    /** Device buffers of one probe, freed together. */
    private static final class Buffers implements AutoCloseable {
        private final DeviceMemory memory;
        private final List<DeviceMemory.Block> blocks = new ArrayList<>();

        Buffers(DeviceMemory memory) {
            this.memory = memory;
        }

        MemorySegment empty(long floats) {
            DeviceMemory.Block blk = memory.allocate(floats * Float.BYTES, MemoryTag.COMM, "probe");
            blocks.add(blk);
            return blk.segment().asSlice(0, floats * Float.BYTES);
        }

        /** Values of several magnitudes, different per member, so that the summation order shows in the bits. */
        MemorySegment filled(long floats, int member) {
            MemorySegment s = empty(floats);
            for (int k = 0; k < floats; k++) {
                double v = Math.sin(1.7 * k + 0.9 * member + 0.3) * Math.pow(10, (k + member) % 7 - 3);
                s.setAtIndex(ValueLayout.JAVA_FLOAT, k, (float) v);
            }
            return s;
        }

        @Override
        public void close() {
            for (DeviceMemory.Block blk : blocks) blk.close();
        }
    }
}
