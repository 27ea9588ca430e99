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
import fourfold.engine.model.Parameter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

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

    /** Writes the trainer's current state to {@code dir} (atomically replacing an older checkpoint). */
    public static void save(Trainer trainer, Path dir) {
        AtomicDirectory.write(dir, tmp -> {
            trainer.options().model().writeHfJson(tmp.resolve("config.json"));
            SafetensorsWriter model = new SafetensorsWriter().metadata("format", "pt");
            for (Parameter p : trainer.model().parameters()) model.add(p.name(), p.data().segment(), p.fullShape());
            model.write(tmp.resolve("model.safetensors"));
            SafetensorsWriter opt = new SafetensorsWriter();
            for (AdamWOptimizer.Slot s : trainer.optimizer().slots()) {
                int[] shape = s.m().shape();
                opt.add(s.name() + ".exp_avg", s.m().segment(), shape);
                opt.add(s.name() + ".exp_avg_sq", s.v().segment(), shape);
            }
            opt.write(tmp.resolve("optimizer.safetensors"));
            Files.writeString(tmp.resolve("trainer.json"), GSON.toJson(trainerState(trainer)));
        });
    }

    private static JsonObject trainerState(Trainer trainer) {
        TrainOptions o = trainer.options();
        JsonObject j = new JsonObject();
        j.addProperty("format", FORMAT);
        j.addProperty("step", trainer.stepsDone());
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
        j.addProperty("layout", trainer.layout().toString());
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

    /** Loads weights into a trainer whose model has the checkpoint's config (fresh optimizer). */
    public static void loadWeights(Trainer trainer, Path dir) {
        requireSameConfig(trainer.options().model(), dir);
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve("model.safetensors"))) {
            trainer.loadWeights(p -> r.floats(p.name(), p.fullShape()));
        }
    }

    /** Restores weights, optimizer moments and step: the run continues as if never interrupted. */
    public static void resume(Trainer trainer, Path dir) {
        loadWeights(trainer, dir);
        Path f = dir.resolve("optimizer.safetensors");
        if (!Files.isRegularFile(f)) throw new UserError("checkpoint " + dir + " has no optimizer.safetensors, so it cannot be resumed; use --init");
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            for (AdamWOptimizer.Slot s : trainer.optimizer().slots()) {
                s.m().copyFrom(r.floats(s.name() + ".exp_avg", s.m().shape()));
                s.v().copyFrom(r.floats(s.name() + ".exp_avg_sq", s.v().shape()));
            }
        }
        trainer.setStepsDone(readStep(dir));
    }

    private static void requireSameConfig(LlamaConfig expected, Path dir) {
        LlamaConfig found = readConfig(dir);
        if (!found.equals(expected)) {
            throw new UserError("checkpoint " + dir + " was saved from another model config (" + found + "), not " + expected);
        }
    }

    static String shape(int[] s) {
        return Arrays.toString(s);
    }
}
