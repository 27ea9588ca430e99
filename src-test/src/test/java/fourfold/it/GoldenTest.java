package fourfold.it;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import fourfold.devices.Axis;
import fourfold.devices.Cluster;
import fourfold.devices.ClusterConfig;
import fourfold.devices.Device;
import fourfold.devices.Mesh;
import fourfold.engine.data.Batch;
import fourfold.engine.io.SafetensorsReader;
import fourfold.engine.model.Llama;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.model.MicroBatch;
import fourfold.engine.model.Parameter;
import fourfold.engine.train.AdamWOptimizer;
import fourfold.engine.train.Layout;
import fourfold.engine.train.MicroBatches;
import fourfold.engine.train.RankModel;
import fourfold.engine.train.RankTrainer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The `test` preset against PyTorch: logits, loss, every gradient and ten AdamW steps recorded by
 * scripts/golden/make_golden.py (a PyTorch re-implementation of Hugging Face's LlamaForCausalLM).
 */
class GoldenTest {
    static final Path DIR = Path.of("src/test/resources/golden/test");
    static LlamaConfig config;
    static JsonObject expected;
    static int B, T;

    @BeforeAll
    static void read() throws Exception {
        config = LlamaConfig.readHfJson(DIR);
        expected = JsonParser.parseString(Files.readString(DIR.resolve("expected.json"))).getAsJsonObject();
        B = expected.get("B").getAsInt();
        T = expected.get("T").getAsInt();
    }

    static Llama load(Device device) {
        Llama model = Llama.singleDevice(config, device);
        try (SafetensorsReader r = SafetensorsReader.open(DIR.resolve("model.safetensors"))) {
            model.load(p -> r.floats(p.name(), p.fullShape()));
        }
        return model;
    }

    /** max |a - b| / max |b|: the error relative to the tensor's scale. */
    static double relToMax(float[] a, float[] b) {
        double err = 0, scale = 0;
        for (int i = 0; i < a.length; i++) {
            err = Math.max(err, Math.abs(a[i] - b[i]));
            scale = Math.max(scale, Math.abs(b[i]));
        }
        return err / scale;
    }

    @Test
    void logitsLossAndEveryGradientMatchPyTorch() {
        try (Device device = new Device(0, 256 << 20, 2); Llama model = load(device);
             SafetensorsReader batch = SafetensorsReader.open(DIR.resolve("batch.safetensors"));
             SafetensorsReader logits = SafetensorsReader.open(DIR.resolve("logits.safetensors"));
             SafetensorsReader grads = SafetensorsReader.open(DIR.resolve("grads.safetensors"))) {
            MicroBatch mb = MicroBatch.causal(B, T, batch.ints("inputs"), batch.ints("targets"));
            double logitErr = relToMax(model.logits(mb), logits.floats("logits"));
            assertTrue(logitErr < 1e-5, "logits differ from PyTorch by " + logitErr + " of their largest magnitude (tolerance 1e-5)");

            Llama.ForwardContext ctx = model.forward(mb, null, 1f / (B * T));
            double loss = ctx.lossSum() / (B * T);
            double want = expected.get("loss").getAsDouble();
            assertEquals(want, loss, 1e-5 * want, "fp32 loss within 1e-5 relative of PyTorch's");
            model.backward(ctx, null);
            for (Parameter p : model.parameters()) {
                double err = relToMax(p.grad().toArray(), grads.floats(p.name(), p.fullShape()));
                // PyTorch's own fp32-vs-fp64 difference is ~1e-6 of the largest gradient (expected.json)
                assertTrue(err < 1e-4, "gradient of " + p.name() + " differs from PyTorch by " + err + " of its largest magnitude (tolerance 1e-4)");
            }
        }
    }

    @Test
    void tenAdamWStepsFollowPyTorchsLossesAndEndOnItsWeights() {
        JsonObject opt = expected.getAsJsonObject("optimizer");
        JsonArray betas = opt.getAsJsonArray("betas");
        var hyper = new AdamWOptimizer.Hyper(betas.get(0).getAsDouble(), betas.get(1).getAsDouble(),
                opt.get("eps").getAsDouble(), opt.get("weight_decay").getAsDouble());
        double lr = opt.get("lr").getAsDouble();
        JsonArray losses = expected.getAsJsonArray("losses");
        JsonArray norms = expected.getAsJsonArray("grad_norms");
        try (Cluster cluster = new Cluster(new Mesh(1, 1, 1, 1), ClusterConfig.defaults().withMemoryPerDevice(256 << 20).withThreadsPerDevice(2));
             SafetensorsReader batch = SafetensorsReader.open(DIR.resolve("batch.safetensors"));
             SafetensorsReader fin = SafetensorsReader.open(DIR.resolve("final.safetensors"))) {
            cluster.run(rank -> {
                Llama model = load(rank.device());
                int[] inputs = batch.ints("steps.inputs"), targets = batch.ints("steps.targets");
                RankModel one = new RankModel(rank, model);
                try (RankTrainer trainer = new RankTrainer(one, AdamWOptimizer.forParameters(model.parameters(), hyper), rank.group(Axis.DP), Layout.single(), MicroBatches.single(null), null)) {
                    for (int s = 0; s < losses.size(); s++) {
                        int from = s * B * T;
                        Batch b = new Batch(Arrays.copyOfRange(inputs, from, from + B * T), Arrays.copyOfRange(targets, from, from + B * T), B, T);
                        RankTrainer.StepResult r = trainer.step(b, (long) B * T, lr, 0);
                        double want = losses.get(s).getAsDouble();
                        assertEquals(want, r.lossSum() / (B * T), 1e-5 * want, "loss of step " + s + " within 1e-5 relative");
                        double wantNorm = norms.get(s).getAsDouble();
                        assertEquals(wantNorm, r.gradNorm(), 1e-4 * wantNorm, "gradient norm of step " + s);
                    }
                    for (Parameter p : model.parameters()) {
                        double err = relToMax(p.data().toArray(), fin.floats(p.name(), p.fullShape()));
                        // PyTorch's own fp32 and fp64 runs end 5.3e-5 apart (relative to the largest weight, expected.json)
                        assertTrue(err < 2e-4, "weights of " + p.name() + " after 10 steps differ from PyTorch by " + err + " of their largest magnitude (tolerance 2e-4)");
                    }
                }
                return null;
            });
        }
    }
}
