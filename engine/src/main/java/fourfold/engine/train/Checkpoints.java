package fourfold.engine.train;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import fourfold.engine.UserError;
import fourfold.engine.data.Sampling;
import fourfold.engine.io.AtomicDirectory;
import fourfold.engine.io.HfNames;
import fourfold.engine.io.Manifest;
import fourfold.engine.io.SafetensorsReader;
import fourfold.engine.io.SafetensorsWriter;
import fourfold.engine.model.LlamaConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
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
        return parseConfig(dir);
    }

    static LlamaConfig parseConfig(Path dir) {
        Path file = dir.resolve("config.json");
        try {
            return LlamaConfig.readHfJson(file);
        } catch (UserError e) {
            // The config's own checks ("hidden_size 60 is not divisible by ...") do not say which file.
            if (e.getMessage().contains(file.toString())) throw e;
            throw new UserError(file + ": " + e.getMessage() + "; fix config.json or use another checkpoint", e);
        }
    }

    private static void requireCheckpoint(Path dir) {
        // A replace interrupted by a crash leaves the previous checkpoint under a hidden name: put it back.
        AtomicDirectory.recover(dir);
        if (!Files.exists(dir)) throw new UserError("checkpoint " + dir + " does not exist; give the directory that `fourfold train --out` wrote");
        if (!Files.isDirectory(dir)) throw new UserError("checkpoint " + dir + " is not a directory; give the directory that `fourfold train --out` wrote");
        for (String f : new String[]{"config.json", "model.safetensors"}) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new UserError("checkpoint " + dir + " has no " + f + "; give the directory that `fourfold train --out` wrote");
            }
        }
    }

    /**
     * Checks, before anything is allocated or trained, that {@code dir}/model.safetensors is a
     * valid file (header, offsets, size) holding exactly the tensors {@code config} needs.
     */
    public static void requireWeights(Path dir, LlamaConfig config) {
        requireCheckpoint(dir);
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve(CheckpointCheck.MODEL))) {
            CheckpointCheck.requireMatches(r, config, dir);
        }
    }

    /** Full (unsharded) tensors by Hugging Face name, in model order. */
    public record State(Map<String, float[]> weights, Map<String, int[]> shapes, Map<String, float[]> expAvg, Map<String, float[]> expAvgSq) {}

    /** Writes a checkpoint to {@code dir}, atomically replacing an older one. */
    public static void write(Path dir, TrainOptions options, Layout layout, int step, State state) {
        AtomicDirectory.write(dir, contents(options, layout, step, state));
    }

    /**
     * The files of a checkpoint, written into an empty directory: config.json, model.safetensors
     * and optimizer.safetensors (each tensor with its checksum), trainer.json, and last
     * manifest.json (sizes, checksums of the JSON files, step, layout, parameter count).
     */
    public static AtomicDirectory.Contents contents(TrainOptions options, Layout layout, int step, State state) {
        return tmp -> {
            options.model().writeHfJson(tmp.resolve(CheckpointCheck.CONFIG));
            SafetensorsWriter model = new SafetensorsWriter().metadata("format", "pt");
            state.weights().forEach((name, values) -> model.add(name, values, state.shapes().get(name)));
            model.write(tmp.resolve(CheckpointCheck.MODEL));
            SafetensorsWriter opt = new SafetensorsWriter();
            state.expAvg().forEach((name, values) -> opt.add(name + ".exp_avg", values, state.shapes().get(name)));
            state.expAvgSq().forEach((name, values) -> opt.add(name + ".exp_avg_sq", values, state.shapes().get(name)));
            opt.write(tmp.resolve(CheckpointCheck.OPTIMIZER));
            Files.writeString(tmp.resolve(CheckpointCheck.TRAINER), GSON.toJson(trainerState(options, layout, step)));
            Map<String, JsonElement> info = new LinkedHashMap<>();
            info.put("step", new JsonPrimitive(step));
            info.put("layout", new JsonPrimitive(layout.toString()));
            info.put("parameters", new JsonPrimitive(options.model().parameterCount()));
            Manifest.describe(tmp, info, List.of(CheckpointCheck.CONFIG, CheckpointCheck.TRAINER),
                    List.of(CheckpointCheck.MODEL, CheckpointCheck.OPTIMIZER)).write(tmp);
        };
    }

    private static JsonObject trainerState(TrainOptions o, Layout layout, int step) {
        JsonObject j = new JsonObject();
        j.addProperty("format", FORMAT);
        j.addProperty("step", step);
        j.addProperty("steps", o.steps());
        // Absolute, so that --resume from another working directory reads the same file.
        j.addProperty("data", o.data() == null ? null : o.data().toAbsolutePath().normalize().toString());
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
            if (j == null) throw new UserError("cannot read " + f + ": it is empty; the checkpoint cannot be resumed, use --init to start a new run from its weights");
            if (integer(f, j, "format") != FORMAT) throw new UserError(f + ": unsupported format " + j.get("format") + ", expected " + FORMAT);
            JsonElement data = j.get("data");
            return new TrainOptions(readConfig(dir),
                    data == null || data.isJsonNull() ? null : Path.of(data.getAsString()),
                    steps > 0 ? steps : integer(f, j, "steps"),
                    integer(f, j, "batch"), integer(f, j, "seq"), number(f, j, "lr"), number(f, j, "min_lr"),
                    LrSchedule.Kind.valueOf(string(f, j, "lr_schedule").toUpperCase(Locale.ROOT)), integer(f, j, "warmup"),
                    number(f, j, "weight_decay"), number(f, j, "clip"), number(f, j, "beta1"),
                    number(f, j, "beta2"), number(f, j, "eps"), j.get("seed") == null ? missing(f, "seed") : j.get("seed").getAsLong(),
                    Sampling.parse(string(f, j, "sampling")), integer(f, j, "eval_every"), integer(f, j, "eval_windows"));
        } catch (UserError e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new UserError("cannot read " + f + " (" + reason(e) + "); the checkpoint cannot be resumed, use --init to start a new run from its weights");
        }
    }

    private static int integer(Path f, JsonObject j, String key) {
        return j.get(key) == null || j.get(key).isJsonNull() ? missing(f, key) : j.get(key).getAsInt();
    }

    private static double number(Path f, JsonObject j, String key) {
        return j.get(key) == null || j.get(key).isJsonNull() ? missing(f, key) : j.get(key).getAsDouble();
    }

    private static String string(Path f, JsonObject j, String key) {
        if (j.get(key) == null || j.get(key).isJsonNull()) missing(f, key);
        return j.get(key).getAsString();
    }

    private static int missing(Path f, String key) {
        throw new UserError(f + " has no \"" + key + "\"; the checkpoint cannot be resumed, use --init to start a new run from its weights");
    }

    /** What went wrong, for a user: the innermost cause's message, without Java class names or links. */
    private static String reason(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause().getMessage() != null) t = t.getCause();
        String m = t.getMessage() == null ? "unreadable" : t.getMessage();
        int see = m.indexOf("\nSee ");
        if (see < 0) see = m.indexOf(" See https://");
        return (see >= 0 ? m.substring(0, see) : m).replaceAll("\\s*\\R\\s*", " ").strip();
    }

    public static int readStep(Path dir) {
        Path f = dir.resolve("trainer.json");
        try {
            return integer(f, GSON.fromJson(Files.readString(f), JsonObject.class), "step");
        } catch (UserError e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new UserError("cannot read " + f + " (" + reason(e) + "); the checkpoint cannot be resumed, use --init to start a new run from its weights");
        }
    }

    /**
     * Refuses a checkpoint whose model config differs from {@code expected}, or whose weights file
     * is damaged or does not fit its config (checked now, not when the ranks load it, so a bad
     * checkpoint costs no time and prints one line).
     */
    public static void requireSameConfig(LlamaConfig expected, Path dir) {
        LlamaConfig found = readConfig(dir);
        if (!found.equals(expected)) {
            throw new UserError("checkpoint " + dir + " was saved from another model config (" + found + "), not " + expected);
        }
        requireWeights(dir, found);
    }

    /**
     * The optimizer file of a checkpoint that is to be resumed, after checking that it is a valid
     * safetensors file with exp_avg and exp_avg_sq of every parameter of the checkpoint's config.
     */
    public static Path optimizerFile(Path dir) {
        Path f = dir.resolve("optimizer.safetensors");
        if (!Files.isRegularFile(f)) {
            throw new UserError("checkpoint " + dir + " has no optimizer.safetensors, so it cannot be resumed; use --init to start a new run from its weights");
        }
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            CheckpointCheck.requireMoments(r, readConfig(dir));
        }
        return f;
    }
}
