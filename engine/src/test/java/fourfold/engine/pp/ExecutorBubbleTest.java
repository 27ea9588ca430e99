package fourfold.engine.pp;

import fourfold.devices.Axis;
import fourfold.devices.Cluster;
import fourfold.devices.ClusterConfig;
import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.devices.Mesh;
import fourfold.devices.comm.ProcessGroup;
import fourfold.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The executor on stages that all cost the same on the simulated clock (F 1 s, B 1 s, W 1 s, BW
 * 2 s per stage, divided by v for the chunks of an interleaved rank; messages of one float, whose
 * link time is negligible next to a second): the measured pp_bubble is the textbook one.
 */
class ExecutorBubbleTest {
    /** A stage whose compute is only simulated time; it passes one float on and checks what arrives. */
    private static final class EqualCost implements StageWork {
        private final Device device;
        private final double unit;
        private final int stage, stages;
        private final List<String> errors;
        private final Map<Integer, Tensor> outputs = new HashMap<>();

        EqualCost(Device device, double unit, int stage, int stages, List<String> errors) {
            this.device = device;
            this.unit = unit;
            this.stage = stage;
            this.stages = stages;
            this.errors = errors;
        }

        @Override
        public int[] boundaryShape(int microBatch) {
            return new int[]{1, 1};
        }

        private void check(Tensor in, float expected, String what) {
            if (in != null && in.get(0) != expected) errors.add(what + " of stage " + stage + " got " + in.get(0) + ", expected " + expected);
        }

        @Override
        public Tensor forward(int microBatch, Tensor input) {
            check(input, 1000 * (stage - 1) + microBatch, "F" + microBatch);
            device.clock().advanceBy(unit);
            if (stage == stages - 1) return null;
            Tensor out = Tensor.of(device, MemoryTag.ACTIVATIONS, "out", new float[]{1000 * stage + microBatch}, 1, 1);
            outputs.put(microBatch, out);
            return out;
        }

        @Override
        public void sent(int microBatch) {
            outputs.remove(microBatch).close();
        }

        private Tensor inputGrad(int microBatch) {
            if (stage == 0) return null;
            return Tensor.of(device, MemoryTag.ACTIVATIONS, "dx", new float[]{-1000 * stage - microBatch}, 1, 1);
        }

        @Override
        public Tensor backward(int microBatch, Tensor dOutput) {
            check(dOutput, -1000 * (stage + 1) - microBatch, "BW" + microBatch);
            device.clock().advanceBy(2 * unit);
            return inputGrad(microBatch);
        }

        @Override
        public Tensor backwardInput(int microBatch, Tensor dOutput) {
            check(dOutput, -1000 * (stage + 1) - microBatch, "B" + microBatch);
            device.clock().advanceBy(unit);
            return inputGrad(microBatch);
        }

        @Override
        public void backwardWeights(int microBatch) {
            device.clock().advanceBy(unit);
        }
    }

    /** The pp_bubble the executor measures for a schedule, and that every message carried what it should. */
    static double measure(String schedule, int p, int m, int v) {
        List<List<Action>> lists = Schedules.named(schedule).actions(p, m, v);
        try (Cluster c = new Cluster(new Mesh(1, p, 1, 1), ClusterConfig.defaults().withMemoryPerDevice(4L << 20).withThreadsPerDevice(1))) {
            List<Double> bubbles = c.run(rank -> {
                ProcessGroup pp = rank.group(Axis.PP);
                List<String> errors = new ArrayList<>();
                List<StageWork> chunks = new ArrayList<>();
                for (int k = 0; k < v; k++) chunks.add(new EqualCost(rank.device(), 1.0 / v, k * p + pp.rank(), p * v, errors));
                Executor.Times t = new Executor(pp, chunks, null).run(lists.get(pp.rank()));
                assertEquals(List.of(), errors, "messages between stages");
                assertEquals(0, rank.device().memory().inUse(MemoryTag.ACTIVATIONS), "every activation and gradient is freed once consumed");
                return PipelineBubble.measure(pp, t);
            });
            for (double b : bubbles) assertEquals(bubbles.getFirst(), b, 0, "every pp rank reports the same mean");
            return bubbles.getFirst();
        }
    }

    @ParameterizedTest(name = "{0} p={1} m={2}")
    @CsvSource({"gpipe,2,4", "gpipe,4,4", "gpipe,4,8", "1f1b,2,1", "1f1b,2,4", "1f1b,4,8", "1f1b,4,12"})
    void gpipeAnd1f1bBubbleIsPMinusOneOverMPlusPMinusOne(String schedule, int p, int m) {
        double expected = (p - 1.0) / (m + p - 1);
        assertEquals(expected, measure(schedule, p, m, 1), 0.02, schedule + " p=" + p + " m=" + m);
    }

    @ParameterizedTest(name = "interleaved p={0} m={1} v={2}")
    @CsvSource({"2,4,2", "4,8,2", "2,4,3", "4,4,2"})
    void interleavedBubbleIsPMinusOneOverVmPlusPMinusOne(int p, int m, int v) {
        double expected = (p - 1.0) / (v * m + p - 1);
        assertEquals(expected, measure("interleaved", p, m, v), 0.02, "interleaved p=" + p + " m=" + m + " v=" + v);
    }

    @ParameterizedTest(name = "zb-h1 p={0} m={1}")
    @CsvSource({"2,4", "4,12", "4,16"})
    void zeroBubbleH1IsAtMostAThirdOf1f1b(int p, int m) {
        double zb = measure("zb-h1", p, m, 1), oneFOneB = measure("1f1b", p, m, 1);
        assertTrue(zb <= oneFOneB / 3 + 0.02, "zb-h1 bubble " + zb + " vs a third of 1f1b's " + oneFOneB / 3 + " (p=" + p + " m=" + m + ")");
        assertTrue(zb > 0, "zb-h1 keeps a small bubble at the start (p=" + p + " m=" + m + "): " + zb);
    }

    @Test
    void onePipelineRankHasNoBubble() {
        assertEquals(0, measure("1f1b", 1, 3, 1), 0, "pp = 1");
    }
}
