package fourfold.devices.trace;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import fourfold.devices.Axis;
import fourfold.devices.Cluster;
import fourfold.devices.ClusterConfig;
import fourfold.devices.DeviceMemory;
import fourfold.devices.HardwareProfile;
import fourfold.devices.MemoryTag;
import fourfold.devices.Mesh;
import fourfold.devices.comm.ReduceOp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The trace is Chrome trace JSON in simulated time: one pid per device named after its mesh
 * coordinates, compute and comm lanes, the engine's spans, kernels, collectives with their
 * simulated duration, and memory counters; written atomically (no temporary file left behind).
 */
class TraceTest {
    @TempDir
    Path dir;

    @Test
    void traceHoldsDevicesLanesSpansAndCountersInSimulatedTime() throws Exception {
        HardwareProfile h100 = HardwareProfile.H100_NVLINK_IB;
        long bytes = 64 << 10; // small: the first Vector API reductions of a JVM run interpreted
        try (Cluster c = new Cluster(new Mesh(1, 1, 1, 2), ClusterConfig.defaults().withMemoryPerDevice(8 << 20)
                .withThreadsPerDevice(1).withProfile(h100).withTrace(true))) {
            c.run(rank -> {
                try (var span = rank.trace().span("forward layer 3");
                     DeviceMemory.Block b = rank.device().memory().allocate(bytes, MemoryTag.ACTIVATIONS, "act")) {
                    rank.device().recordCompute("matmul", 1e9, 0);
                    rank.group(Axis.TP).allReduce(b.segment(), ReduceOp.SUM);
                }
                return null;
            });
            Path file = dir.resolve("trace.json");
            c.trace().write(file);
            try (var files = Files.list(dir)) {
                assertEquals(List.of(file), files.toList(), "only the trace file, no temporary left over");
            }
            JsonArray events = JsonParser.parseString(Files.readString(file)).getAsJsonObject().getAsJsonArray("traceEvents");
            List<JsonObject> ev = new ArrayList<>();
            for (JsonElement e : events) ev.add(e.getAsJsonObject());

            assertTrue(ev.stream().anyMatch(e -> e.get("ph").getAsString().equals("M") && e.get("name").getAsString().equals("process_name")
                    && e.get("pid").getAsInt() == 1 && e.getAsJsonObject("args").get("name").getAsString().equals("GPU 1 (dp=0, pp=0, cp=0, tp=1)")),
                    "process named after its mesh coordinates");
            assertTrue(ev.stream().anyMatch(e -> e.get("ph").getAsString().equals("M") && e.get("name").getAsString().equals("thread_name")
                    && e.get("tid").getAsInt() == Lane.COMM.tid() && e.getAsJsonObject("args").get("name").getAsString().equals("comm")));

            double kernel = 1e9 / h100.compute().peakFlops();
            double ring = 2 * (h100.intraNode().latency() + (bytes / 2.0) / h100.intraNode().bandwidth());
            for (int pid = 0; pid < 2; pid++) {
                JsonObject matmul = find(ev, pid, "matmul");
                assertEquals(0, matmul.get("ts").getAsDouble(), 1e-9);
                assertEquals(kernel * 1e6, matmul.get("dur").getAsDouble(), 1e-6, "kernel span = its modeled cost, in microseconds");
                JsonObject ar = find(ev, pid, "allReduce tp 64.00 KiB");
                assertEquals(Lane.COMM.tid(), ar.get("tid").getAsInt());
                assertEquals(kernel * 1e6, ar.get("ts").getAsDouble(), 1e-6, "the all-reduce starts when the kernel ends");
                assertEquals(ring * 1e6, ar.get("dur").getAsDouble(), 1e-6, "the all-reduce lasts its simulated ring time");
                JsonObject layer = find(ev, pid, "forward layer 3");
                assertEquals(Lane.COMPUTE.tid(), layer.get("tid").getAsInt());
                assertEquals((kernel + ring) * 1e6, layer.get("dur").getAsDouble(), 1e-6, "the engine's span covers its kernel and its all-reduce");
                int p = pid;
                assertTrue(ev.stream().anyMatch(e -> e.get("ph").getAsString().equals("C") && e.get("pid").getAsInt() == p
                        && e.getAsJsonObject("args").get("activations").getAsDouble() == 1.0 / 16), "memory counter shows the 64 KiB activation");
                assertTrue(ev.stream().anyMatch(e -> e.get("ph").getAsString().equals("C") && e.get("pid").getAsInt() == p
                        && e.getAsJsonObject("args").get("comm").getAsDouble() > 0), "memory counter shows the collective's staging");
            }
        }
    }

    private static JsonObject find(List<JsonObject> ev, int pid, String name) {
        return ev.stream().filter(e -> e.get("ph").getAsString().equals("X") && e.get("pid").getAsInt() == pid && e.get("name").getAsString().equals(name))
                .findFirst().orElseThrow(() -> new AssertionError("no span '" + name + "' on pid " + pid));
    }
}
