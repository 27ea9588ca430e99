package fourfold.devices;

import fourfold.devices.comm.CommHandle;
import fourfold.devices.comm.ProcessGroup;
import fourfold.devices.comm.ReduceOp;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The simulated clock gives the analytic times of the hardware profile: a message arrives at
 * max(send time, receiver ready) + latency + bytes / bandwidth of the link it crosses; a ring
 * all-reduce of S bytes on n members takes 2(n-1) * (latency + S/n / bandwidth) after the last
 * member starts; async collectives run on the comm lane and await joins the lanes.
 */
class SimClockTest {
    static final HardwareProfile H100 = HardwareProfile.H100_NVLINK_IB;
    static final LinkSpec NVLINK = H100.intraNode();
    static final LinkSpec IB = H100.interNode();
    static final long MIB = 1 << 20;
    static final double EPS = 1e-15; // seconds: exact up to floating-point rounding

    private static Cluster cluster(Mesh mesh, HardwareProfile profile) {
        return new Cluster(mesh, ClusterConfig.defaults().withMemoryPerDevice(32 * MIB).withThreadsPerDevice(1).withProfile(profile));
    }

    @Test
    void sendRecvArrivesAtMaxOfSendAndReadyPlusLatencyPlusBytesOverBandwidth() {
        for (HardwareProfile profile : List.of(H100, H100.withDevicesPerNode(1))) {
            LinkSpec link = profile.devicesPerNode() == 1 ? IB : NVLINK;
            try (Cluster c = cluster(new Mesh(1, 2, 1, 1), profile)) {
                List<Double> times = c.run(rank -> {
                    ProcessGroup pp = rank.group(Axis.PP);
                    try (DeviceMemory.Block b = rank.device().memory().allocate(MIB, MemoryTag.ACTIVATIONS, "act")) {
                        SimClock clock = rank.device().clock();
                        if (pp.rank() == 0) {
                            clock.advanceBy(1e-3);
                            pp.send(b.segment(), 1, 0); // sent at 1 ms; the receiver is ready earlier
                            pp.send(b.segment(), 1, 1); // also sent at 1 ms; the receiver is ready later
                            return clock.now();
                        }
                        pp.recv(b.segment(), 0, 0);
                        double first = clock.now();
                        clock.advanceTo(5e-3);
                        pp.recv(b.segment(), 0, 1);
                        assertEquals(1e-3 + link.latency() + MIB / link.bandwidth(), first, EPS, "arrival when the receiver waits (" + link.name() + ")");
                        return clock.now();
                    }
                });
                assertEquals(1e-3, times.get(0), EPS, "an eager send does not move the sender's clock");
                assertEquals(5e-3 + link.latency() + MIB / link.bandwidth(), times.get(1), EPS, "arrival when the sender waits (" + link.name() + ")");
            }
        }
    }

    /**
     * irecv is ready from the moment it is posted: a message sent while the receiver computes
     * arrives at max(send, posted) + link time, and awaiting after that costs nothing. isend and
     * irecv count their bytes on the pp axis like send and recv.
     */
    @Test
    void irecvPostedEarlyArrivesFromThePostTimeAndCountsBytesOnThePpAxis() {
        LinkSpec link = NVLINK;
        try (Cluster c = cluster(new Mesh(1, 2, 1, 1), H100)) {
            List<Double> times = c.run(rank -> {
                ProcessGroup pp = rank.group(Axis.PP);
                try (DeviceMemory.Block b = rank.device().memory().allocate(MIB, MemoryTag.ACTIVATIONS, "act")) {
                    SimClock clock = rank.device().clock();
                    if (pp.rank() == 0) {
                        clock.advanceBy(2e-3);
                        CommHandle h = pp.isend(b.segment(), 1, 3);
                        assertEquals(true, h.isDone(), "an eager isend is complete at once");
                        return clock.now();
                    }
                    CommHandle h = pp.irecv(b.segment(), 0, 3); // posted at 0
                    clock.advanceBy(4e-3);                    // compute while the message travels
                    h.await();
                    assertEquals(4e-3, clock.now(), EPS, "the message arrived during compute: awaiting costs nothing");
                    CommHandle late = pp.irecv(b.segment(), 0, 4);
                    assertEquals(false, late.isDone(), "an irecv is pending until awaited");
                    return clock.now();
                }
            });
            assertEquals(2e-3, times.get(0), EPS, "isend does not move the sender's clock");
            assertEquals(MIB, c.stats().bytesSent(0, "pp"), "bytes sent on pp");
            assertEquals(MIB, c.stats().bytesReceived(1, "pp"), "bytes received on pp");
        }
        assertEquals(true, 2e-3 + link.latency() + MIB / link.bandwidth() < 4e-3, "the test's message must arrive before the receiver's compute ends");
    }

    @Test
    void ringAllReduceTakesTwoNMinusOneStepsOfTheProfile() {
        int n = 4;
        long bytes = MIB / 4; // any size gives the formula; small keeps the test fast
        double step = NVLINK.latency() + (bytes / n) / NVLINK.bandwidth();
        try (Cluster c = cluster(new Mesh(n, 1, 1, 1), H100)) {
            List<Double> ends = c.run(rank -> allReduceAt(rank, bytes, 0));
            for (int r = 0; r < n; r++) assertEquals(2 * (n - 1) * step, ends.get(r), EPS, "ring all-reduce end on rank " + r);

            // A late member delays everyone: the ring finishes 2(n-1) steps after the last start.
            c.resetClocks();
            ends = c.run(rank -> allReduceAt(rank, bytes, rank.rank() == 2 ? 1e-3 : 0));
            for (int r = 0; r < n; r++) assertEquals(1e-3 + 2 * (n - 1) * step, ends.get(r), EPS, "ring all-reduce after a late start, rank " + r);

            assertEquals(H100.compute(), c.device(0).spec(), "devices take their compute spec from the profile");
        }
        try (Cluster c = cluster(new Mesh(2, 1, 1, 1), H100.withDevicesPerNode(1))) {
            List<Double> ends = c.run(rank -> allReduceAt(rank, bytes, 0));
            double ibStep = IB.latency() + (bytes / 2) / IB.bandwidth();
            assertEquals(2 * ibStep, ends.get(0), EPS, "a ring across two nodes runs at InfiniBand speed");
        }
        try (Cluster c = new Cluster(new Mesh(2, 1, 1, 1), ClusterConfig.defaults().withMemoryPerDevice(MIB).withThreadsPerDevice(2))) {
            assertEquals(2 * ComputeSpec.CPU_CORE.peakFlops(), c.device(1).spec().peakFlops(), 0, "cpu-local compute scales with the device's threads");
        }
    }

    @Test
    void asyncAllReduceOverlapsComputeAndAwaitJoinsTheLanes() {
        long bytes = MIB / 4;
        double ring = 2 * (NVLINK.latency() + (bytes / 2) / NVLINK.bandwidth());
        double peak = H100.compute().peakFlops();
        try (Cluster c = cluster(new Mesh(2, 1, 1, 1), H100)) {
            for (double compute : new double[] {ring / 2, ring * 3}) {
                c.resetClocks();
                List<double[]> t = c.run(rank -> {
                    try (DeviceMemory.Block b = rank.device().memory().allocate(bytes, MemoryTag.GRADS, "grads");
                         DeviceMemory.Block b2 = rank.device().memory().allocate(bytes, MemoryTag.GRADS, "grads 2")) {
                        ProcessGroup dp = rank.group(Axis.DP);
                        CommHandle h = dp.allReduceAsync(b.segment(), ReduceOp.SUM);
                        CommHandle h2 = dp.allReduceAsync(b2.segment(), ReduceOp.SUM); // queued behind h on the comm lane
                        rank.device().recordCompute("backward", compute * peak, 0);
                        double beforeAwait = rank.device().clock().now();
                        h.await();
                        double afterFirst = rank.device().clock().now();
                        h2.await();
                        return new double[] {beforeAwait, afterFirst, rank.device().clock().now()};
                    }
                });
                for (double[] r : t) {
                    assertEquals(compute, r[0], EPS, "compute runs while the all-reduce is in flight");
                    assertEquals(Math.max(compute, ring), r[1], EPS, "await = max(compute end, comm end)");
                    assertEquals(Math.max(compute, 2 * ring), r[2], EPS, "the second async collective starts when the first ends");
                }
            }
        }
    }

    private static double allReduceAt(Rank rank, long bytes, double start) {
        try (DeviceMemory.Block b = rank.device().memory().allocate(bytes, MemoryTag.GRADS, "grads")) {
            rank.device().clock().advanceTo(start);
            rank.group(Axis.DP).allReduce(b.segment(), ReduceOp.SUM);
            return rank.device().clock().now();
        }
    }
}
