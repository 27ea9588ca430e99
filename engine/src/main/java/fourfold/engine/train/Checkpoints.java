package fourfold.engine.train;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import fourfold.engine.UserError;
import fourfold.engine.data.Sampling;
import fourfold.engine.io.AtomicDirectory;
import fourfold.engine.io.SafetensorsReader;
import fourfold.engine.io.SafetensorsWriter;
import fourfold.engine.model.LlamaConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * Checkpoint directories: {@code config.json} and {@code model.safetensors} in Hugging Face
 * Llama layout (loadable by transformers), plus {@code optimizer.safetensors} (exp_avg and
 * exp_avg_sq per parameter, full shapes) and {@code trainer.json} (step, options) for resume.
 * Always written to a temporary directory and renamed, so a crash never leaves half a checkpoint.
 */
public final class Checkpoints {
    public static final int FORMAT = 1;
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();

    private Checkpoints() {}

    public static LlamaConfig readConfig(Path dir) {
        requireCheckpoint(dir);
        return LlamaConfig.readHfJson(dir);
    }

    /** Refuses an output whose parent cannot be written, before any training time is spent. */
    public static void requireWritableParent(Path out) {
        Path parent = out.toAbsolutePath().getParent();
        Path existing = parent;
        while (existing != null && !Files.exists(existing)) existing = existing.getParent();
        if (existing == null || !Files.isDirectory(existing) || !Files.isWritable(existing)) {
            throw new UserError("cannot write checkpoint " + out + ": " + (existing == null ? parent : existing) + " is not a writable directory; choose another --out");
        }
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new UserError("cannot write checkpoint " + out + ": it exists and is not a directory; choose another --out");
        }
    }

    private static void requireCheckpoint(Path dir) {
        if (!Files.isDirectory(dir)) throw new UserError("checkpoint " + dir + " does not exist or is not a directory");
        if (!Files.isRegularFile(dir.resolve("config.json"))) throw new UserError("checkpoint " + dir + " has no config.json");
        if (!Files.isRegularFile(dir.resolve("model.safetensors"))) throw new UserError("checkpoint " + dir + " has no model.safetensors");
    }

    /** Full (unsharded) tensors by Hugging Face name, in model order. */
    public record State(Map<String, float[]> weights, Map<String, int[]> shapes, Map<String, float[]> expAvg, Map<String, float[]> expAvgSq) {}

    /** Writes a checkpoint to {@code dir}, atomically replacing an older one. */
    public static void write(Path dir, TrainOptions options, Layout layout, int step, State state) {
        AtomicDirectory.write(dir, tmp -> {
            options.model().writeHfJson(tmp.resolve("config.json"));
            SafetensorsWriter model = new SafetensorsWriter().metadata("format", "pt");
            state.weights().forEach((name, values) -> model.add(name, values, state.shapes().get(name)));
            model.write(tmp.resolve("model.safetensors"));
            SafetensorsWriter opt = new SafetensorsWriter();
            state.expAvg().forEach((name, values) -> opt.add(name + ".exp_avg", values, state.shapes().get(name)));
            state.expAvgSq().forEach((name, values) -> opt.add(name + ".exp_avg_sq", values, state.shapes().get(name)));
            opt.write(tmp.resolve("optimizer.safetensors"));
            Files.writeString(tmp.resolve("trainer.json"), GSON.toJson(trainerState(options, layout, step)));
        });
    }

    private static JsonObject trainerState(TrainOptions o, Layout layout, int step) {
        JsonObject j = new JsonObject();
        j.addProperty("format", FORMAT);
        j.addProperty("step", step);
        j.addProperty("steps", o.steps());
        j.addProperty("data", o.data() == null ? null : o.data().toString());
        j.addProperty("batch", o.batch());
        j.addProperty("seq", o.seq());
        j.addProperty("lr", o.lr());
        j.addProperty("min_lr", o.minLr());
        j.addProperty("lr_schedule", o.schedule().name().toLowerCase());
        j.addProperty("warmup", o.warmup());
        j.addProperty("weight_decay", o.weightDecay());
        j.addProperty("clip", o.clip());
        j.addProperty("beta1", o.beta1());
        j.addProperty("beta2", o.beta2());
        j.addProperty("eps", o.eps());
        j.addProperty("seed", o.seed());
        j.addProperty("sampling", o.sampling().cliName());
        j.addProperty("eval_every", o.evalEvery());
        j.addProperty("eval_windows", o.evalWindows());
        j.addProperty("layout", layout.toString());
        // Batches are a pure function of (seed, step), so the step is the whole sampler state.
        j.addProperty("rng", "batches derived from (seed, step); no other random state");
        return j;
    }

    /** The options a saved run was trained with; {@code steps} overrides the total when > 0. */
    public static TrainOptions readOptions(Path dir, int steps) {
        requireCheckpoint(dir);
        Path f = dir.resolve("trainer.json");
        if (!Files.isRegularFile(f)) throw new UserError("checkpoint " + dir + " has no trainer.json, so it cannot be resumed; use --init to start a new run from its weights");
        try {
            JsonObject j = GSON.fromJson(Files.readString(f), JsonObject.class);
            if (j.get("format").getAsInt() != FORMAT) throw new UserError(f + ": unsupported format " + j.get("format"));
            return new TrainOptions(readConfig(dir),
                    j.get("data").isJsonNull() ? null : Path.of(j.get("data").getAsString()),
                    steps > 0 ? steps : j.get("steps").getAsInt(),
                    j.get("batch").getAsInt(), j.get("seq").getAsInt(), j.get("lr").getAsDouble(), j.get("min_lr").getAsDouble(),
                    LrSchedule.Kind.valueOf(j.get("lr_schedule").getAsString().toUpperCase()), j.get("warmup").getAsInt(),
                    j.get("weight_decay").getAsDouble(), j.get("clip").getAsDouble(), j.get("beta1").getAsDouble(),
                    j.get("beta2").getAsDouble(), j.get("eps").getAsDouble(), j.get("seed").getAsLong(),
                    Sampling.parse(j.get("sampling").getAsString()), j.get("eval_every").getAsInt(), j.get("eval_windows").getAsInt());
        } catch (IOException | RuntimeException e) {
            if (e instanceof UserError u) throw u;
            throw new UserError("cannot read " + f + ": " + e.getMessage());
        }
    }

    public static int readStep(Path dir) {
        try {
            return GSON.fromJson(Files.readString(dir.resolve("trainer.json")), JsonObject.class).get("step").getAsInt();
        } catch (IOException | RuntimeException e) {
            throw new UserError("cannot read " + dir.resolve("trainer.json") + ": " + e.getMessage());
        }
    }

    /** Refuses a checkpoint whose model config differs from {@code expected}. */
    public static void requireSameConfig(LlamaConfig expected, Path dir) {
        LlamaConfig found = readConfig(dir);
        if (!found.equals(expected)) {
            throw new UserError("checkpoint " + dir + " was saved from another model config (" + found + "), not " + expected);
        }
    }

    /** The optimizer file of a checkpoint that is to be resumed. */
    public static Path optimizerFile(Path dir) {
        Path f = dir.resolve("optimizer.safetensors");
        if (!Files.isRegularFile(f)) throw new UserError("checkpoint " + dir + " has no optimizer.safetensors, so it cannot be resumed; use --init");
        return f;
    }

    static String shape(int[] s) {
        return Arrays.toString(s);
    }
}
