package fourfold.devices.comm;

import fourfold.devices.Axis;
import fourfold.devices.Cluster;
import fourfold.devices.ClusterConfig;
import fourfold.devices.DeviceMemory;
import fourfold.devices.Mesh;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static fourfold.devices.TestBuffers.alloc;
import static fourfold.devices.TestBuffers.freeAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The byte accounting equals the ring formulas exactly: for a buffer of S bytes on n members,
 * all-reduce moves 2(n-1)/n * S per rank each way, reduce-scatter and all-gather (n-1)/n * S,
 * all-to-all (n-1)/n * S; with uneven chunks, every chunk but the rank's own (or its
 * neighbour's) crosses a link.
 */
class CommBytesTest {

    @ParameterizedTest(name = "{0} members")
    @ValueSource(ints = {2, 3, 5, 8})
    void bytesEqualTheRingFormulas(int n) {
        long count = 1000L * n; // divisible: the textbook formulas are exact
        long s = count * 4;
        try (Cluster c = cluster(new Mesh(n, 1, 1, 1))) {
            c.run(rank -> {
                ProcessGroup g = rank.group(Axis.DP);
                List<DeviceMemory.Block> owned = new ArrayList<>();
                MemorySegment full = alloc(rank.device(), count, owned);
                MemorySegment part = alloc(rank.device(), count / n, owned);
                g.allReduce(full, ReduceOp.SUM);
                g.reduceScatter(full, part);
                g.allGather(part, full);
                g.allToAll(full, alloc(rank.device(), count, owned));
                g.broadcast(full, 0);
                freeAll(owned);
                return null;
            });
            CommStats st = c.stats();
            for (int r = 0; r < n; r++) {
                assertEquals(2 * (n - 1) * s / n, st.bytesSent(r, "dp", CommKind.ALL_REDUCE), "allReduce bytes sent by rank " + r);
                assertEquals(2 * (n - 1) * s / n, st.bytesReceived(r, "dp", CommKind.ALL_REDUCE), "allReduce bytes received by rank " + r);
                assertEquals((n - 1) * s / n, st.bytesSent(r, "dp", CommKind.REDUCE_SCATTER), "reduceScatter bytes sent by rank " + r);
                assertEquals((n - 1) * s / n, st.bytesReceived(r, "dp", CommKind.REDUCE_SCATTER), "reduceScatter bytes received by rank " + r);
                assertEquals((n - 1) * s / n, st.bytesSent(r, "dp", CommKind.ALL_GATHER), "allGather bytes sent by rank " + r);
                assertEquals((n - 1) * s / n, st.bytesReceived(r, "dp", CommKind.ALL_GATHER), "allGather bytes received by rank " + r);
                assertEquals((n - 1) * s / n, st.bytesSent(r, "dp", CommKind.ALL_TO_ALL), "allToAll bytes sent by rank " + r);
                // Broadcast is a chain from the root: everyone but the last member sends S, everyone but the root receives S.
                assertEquals(r == n - 1 ? 0 : s, st.bytesSent(r, "dp", CommKind.BROADCAST), "broadcast bytes sent by rank " + r);
                assertEquals(r == 0 ? 0 : s, st.bytesReceived(r, "dp", CommKind.BROADCAST), "broadcast bytes received by rank " + r);
                assertEquals(1, st.calls(r, "dp", CommKind.ALL_REDUCE));
                assertEquals((2 * (n - 1) + 3 * (n - 1)) * s / n + (r == n - 1 ? 0 : s), st.bytesSent(r), "all bytes sent by rank " + r);
            }
            st.reset();
            assertEquals(0, st.bytesSent(0));
            assertTrue(st.entries().isEmpty());
        }
    }

    @Test
    void unevenChunksCountEveryChunkThatCrossesALink() {
        int n = 4;
        long count = 1003; // chunks 251, 251, 251, 250
        try (Cluster c = cluster(new Mesh(n, 1, 1, 1))) {
            c.run(rank -> {
                ProcessGroup g = rank.group(Axis.DP);
                List<DeviceMemory.Block> owned = new ArrayList<>();
                MemorySegment buf = alloc(rank.device(), count, owned);
                g.allReduce(buf, ReduceOp.SUM);
                g.reduceScatter(buf, alloc(rank.device(), ProcessGroup.chunk(count, n, g.rank()).length(), owned));
                freeAll(owned);
                return null;
            });
            for (int r = 0; r < n; r++) {
                long own = 4 * ProcessGroup.chunk(count, n, r).length();
                long next = 4 * ProcessGroup.chunk(count, n, (r + 1) % n).length();
                long prev = 4 * ProcessGroup.chunk(count, n, (r + n - 1) % n).length();
                // Reduce-scatter sends every chunk but its own, receives every chunk but its predecessor's;
                // all-gather sends every chunk but its successor's, receives every chunk but its own.
                assertEquals(2 * 4 * count - own - next, c.stats().bytesSent(r, "dp", CommKind.ALL_REDUCE), "allReduce sent, rank " + r);
                assertEquals(2 * 4 * count - prev - own, c.stats().bytesReceived(r, "dp", CommKind.ALL_REDUCE), "allReduce received, rank " + r);
                assertEquals(4 * count - own, c.stats().bytesSent(r, "dp", CommKind.REDUCE_SCATTER), "reduceScatter sent, rank " + r);
            }
        }
    }

    @Test
    void bytesAreBookedUnderTheGroupTheyCrossAndGroupsOfOneMoveNothing() {
        Mesh m = new Mesh(2, 1, 2, 2); // dp2 · cp2 · tp2, pp1
        long count = 4096;
        try (Cluster c = cluster(m)) {
            c.run(rank -> {
                List<DeviceMemory.Block> owned = new ArrayList<>();
                MemorySegment buf = alloc(rank.device(), count, owned);
                rank.group(Axis.TP).allReduce(buf, ReduceOp.SUM);
                rank.group(Axis.DP, Axis.CP).allReduce(buf, ReduceOp.AVG);
                rank.group(Axis.PP).allReduce(buf, ReduceOp.SUM); // size 1: free
                ProcessGroup tp = rank.group(Axis.TP);
                MemorySegment msg = alloc(rank.device(), 100, owned);
                if (tp.rank() == 0) tp.send(msg, 1, 7);
                else tp.recv(msg, 0, 7);
                freeAll(owned);
                return null;
            });
            for (int r = 0; r < m.size(); r++) {
                assertEquals(2 * 1 * count * 4 / 2, c.stats().bytesSent(r, "tp", CommKind.ALL_REDUCE), "tp allReduce, rank " + r);
                assertEquals(2 * 3 * count * 4 / 4, c.stats().bytesSent(r, "dp×cp", CommKind.ALL_REDUCE), "dp×cp allReduce, rank " + r);
                assertEquals(0, c.stats().bytesSent(r, "pp"), "a group of one moves no bytes, rank " + r);
                assertEquals(0, c.stats().calls(r, "pp", CommKind.ALL_REDUCE));
                boolean sender = m.coords(r).tp() == 0;
                assertEquals(sender ? 400 : 0, c.stats().bytesSent(r, "tp", CommKind.SEND_RECV), "send bytes, rank " + r);
                assertEquals(sender ? 0 : 400, c.stats().bytesReceived(r, "tp", CommKind.SEND_RECV), "recv bytes, rank " + r);
            }
        }
    }

    private static Cluster cluster(Mesh m) {
        return new Cluster(m, ClusterConfig.defaults().withMemoryPerDevice(4L << 20).withThreadsPerDevice(1));
    }
}
