package fourfold.engine.model;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.engine.tensor.Tensor;
import fourfold.engine.tp.TensorParallel;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * B then W gives exactly the gradients of the fused backward (BW): the same GEMMs on the same
 * operands, only later. Between B and W the kept inputs and output gradients are measured in
 * the arena as activations.
 */
class SplitBackwardTest {
    static final LlamaConfig CONFIG = LlamaConfig.of(256, 32, 3, 4, 2, 64, 16);

    private static MicroBatch batch(int B, int T, long seed) {
        Random r = new Random(seed);
        int[] in = new int[B * T], tg = new int[B * T];
        for (int i = 0; i < in.length; i++) {
            in[i] = r.nextInt(256);
            tg[i] = r.nextInt(256);
        }
        return MicroBatch.causal(B, T, in, tg);
    }

    /** Gradients of every parameter and the input gradient after two micro-batches, fused or split. */
    private static List<float[]> run(Device dev, int first, int last, boolean split) {
        try (Llama model = new Llama(CONFIG, dev, TensorParallel.none(), first, last)) {
            model.initialize(7);
            model.zeroGrads();
            List<float[]> out = new ArrayList<>();
            for (int m = 0; m < 2; m++) {
                MicroBatch mb = batch(2, 16, m);
                Tensor input = null, dOut = null;
                if (first > 0) input = Tensor.of(dev, MemoryTag.ACTIVATIONS, "x", random(32 * 32, 10 + m), 32, 32);
                Llama.ForwardContext ctx = model.forward(mb, input, 1f / 64);
                if (!model.isLastStage()) dOut = Tensor.of(dev, MemoryTag.ACTIVATIONS, "dy", random(32 * 32, 20 + m), 32, 32);
                Tensor dx;
                if (split) {
                    Llama.InputGrad g = model.backwardInput(ctx, dOut);
                    dx = g.dInput();
                    long kept = dev.memory().inUse(MemoryTag.ACTIVATIONS) - (dx == null ? 0 : dx.numel() * 4);
                    assertTrue(kept > 0, "B keeps the Linear inputs and output gradients for W in the arena");
                    model.backwardWeights(g.weights());
                    long after = dev.memory().inUse(MemoryTag.ACTIVATIONS) - (dx == null ? 0 : dx.numel() * 4);
                    assertTrue(after < kept, "W frees what B kept");
                } else {
                    dx = model.backward(ctx, dOut);
                }
                if (dx != null) {
                    out.add(dx.toArray());
                    dx.close();
                }
                if (input != null) input.close();
                if (dOut != null) dOut.close();
            }
            for (Parameter p : model.parameters()) out.add(p.grad().toArray());
            return out;
        }
    }

    private static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian() * 0.1f;
        return v;
    }

    @Test
    void bThenWEqualsBwBitwise() {
        try (Device dev = new Device(0, 64 << 20, 1)) {
            for (int[] range : new int[][]{{0, 3}, {1, 2}}) {
                List<float[]> fused = run(dev, range[0], range[1], false), split = run(dev, range[0], range[1], true);
                assertEquals(fused.size(), split.size(), "same number of gradients");
                for (int i = 0; i < fused.size(); i++) {
                    assertArrayEquals(fused.get(i), split.get(i), "stage [" + range[0] + ", " + range[1] + "): gradient " + i + " of B + W vs BW");
                }
                assertEquals(0, dev.memory().inUse(MemoryTag.ACTIVATIONS), "no activation left after the step");
            }
        }
    }
}
