package fourfold.engine.train;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import fourfold.engine.UserError;
import fourfold.engine.io.AtomicDirectory;
import fourfold.engine.io.HfNames;
import fourfold.engine.io.Manifest;
import fourfold.engine.io.SafetensorsReader;
import fourfold.engine.io.TensorInfo;
import fourfold.engine.model.LlamaConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Everything that can be checked about one checkpoint directory without loading it: its files
 * against {@code manifest.json} (sizes, checksums of the JSON files), every tensor against its
 * checksum, the safetensors structure, and the config against the tensors. Collects every
 * problem rather than stopping at the first, so that {@code fourfold inspect} can show them all;
 * {@link #verify} turns the first one into the one-line error of a load.
 */
public final class CheckpointCheck {
    public static final String MODEL = "model.safetensors";
    public static final String OPTIMIZER = "optimizer.safetensors";
    public static final String CONFIG = "config.json";
    public static final String TRAINER = "trainer.json";

    /**
     * What is checked: the weights only (eval, generate, --init: a damaged optimizer does not stop
     * them), the whole run (--resume), or every file there is (inspect).
     */
    public enum Purpose { WEIGHTS, RESUME, INSPECT }

    public record FileStatus(String name, long bytes, String checksum, String problem) {}

    public record TensorStatus(String file, String name, String dtype, int[] shape, String checksum, String problem) {}

    /** The findings; {@code config}, {@code step} and {@code layout} are null where they could not be read. */
    public record Report(Path dir, LlamaConfig config, Integer step, String layout, List<FileStatus> files,
                         List<TensorStatus> tensors, List<String> problems, List<String> notes) {
        public boolean intact() {
            return problems.isEmpty();
        }
    }

    private final Path dir;
    private final Purpose purpose;
    private final List<FileStatus> files = new ArrayList<>();
    private final List<TensorStatus> tensors = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    private Manifest manifest;
    private LlamaConfig config;
    private Integer step;
    private String layout;

    private CheckpointCheck(Path dir, Purpose purpose) {
        this.dir = dir;
        this.purpose = purpose;
    }

    /** Checks {@code dir}; a damaged checkpoint is a report with problems, never an exception. */
    public static Report inspect(Path dir, Purpose purpose) {
        CheckpointCheck c = new CheckpointCheck(dir, purpose);
        c.run();
        return new Report(dir, c.config, c.step, c.layout, List.copyOf(c.files), List.copyOf(c.tensors), List.copyOf(c.problems), List.copyOf(c.notes));
    }

    /** Checks {@code dir} for a load: the first problem is a {@link UserError}; returns the notes to show. */
    public static List<String> verify(Path dir, Purpose purpose) {
        Report r = inspect(dir, purpose);
        if (!r.intact()) throw new UserError(r.problems().getFirst());
        return r.notes();
    }

    private void run() {
        AtomicDirectory.recover(dir); // a replace interrupted by a crash leaves the previous one under a hidden name
        if (!Files.exists(dir)) {
            problems.add("checkpoint " + dir + " does not exist; give the run directory that `fourfold train --out` wrote, or one of its step directories");
            return;
        }
        if (!Files.isDirectory(dir)) {
            problems.add("checkpoint " + dir + " is not a directory; give the run directory that `fourfold train --out` wrote, or one of its step directories");
            return;
        }
        for (String f : List.of(CONFIG, MODEL)) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                problems.add("checkpoint " + dir + " has no " + f + "; give the run directory that `fourfold train --out` wrote, or one of its step directories");
                return;
            }
        }
        if (!attempt(() -> manifest = Manifest.read(dir))) return;
        if (manifest != null) {
            step = manifest.info().containsKey("step") ? manifest.info().get("step").getAsInt() : null;
            layout = manifest.info().containsKey("layout") ? manifest.info().get("layout").getAsString() : null;
        }
        boolean configOk = jsonFile(CONFIG) && attempt(() -> config = Checkpoints.parseConfig(dir));
        boolean resumable = Files.isRegularFile(dir.resolve(OPTIMIZER)) && Files.isRegularFile(dir.resolve(TRAINER));
        boolean all = purpose != Purpose.WEIGHTS;
        if (all && (Files.isRegularFile(dir.resolve(TRAINER)) || purpose == Purpose.RESUME || listed(TRAINER))) {
            if (jsonFile(TRAINER) && step == null) attempt(this::readTrainerJson);
        }
        boolean checksums = tensorFile(MODEL, configOk ? r -> requireMatches(r, config, dir) : null);
        if (all && (Files.isRegularFile(dir.resolve(OPTIMIZER)) || purpose == Purpose.RESUME || listed(OPTIMIZER))) {
            checksums |= tensorFile(OPTIMIZER, configOk ? r -> requireMoments(r, config) : null);
        }
        if (manifest == null && checksums) {
            problems.add("checkpoint " + dir + " has no " + Manifest.FILE + ", though its safetensors files carry fourfold's checksums: the checkpoint"
                    + " is incomplete (a file was lost or not copied); use another checkpoint");
        } else if (manifest == null) {
            notes.add("checkpoint " + dir + " has no checksums (written by another tool or an older fourfold): loaded without verification");
        }
        if (!resumable && purpose == Purpose.INSPECT && problems.isEmpty() && !listed(OPTIMIZER)) {
            notes.add("checkpoint " + dir + " has no " + (Files.isRegularFile(dir.resolve(OPTIMIZER)) ? TRAINER : OPTIMIZER)
                    + ": its weights can be used (eval, generate, --init), not --resume");
        }
    }

    private boolean listed(String name) {
        return manifest != null && manifest.files().containsKey(name);
    }

    /** A JSON file: present where it must be, and matching the manifest. */
    private boolean jsonFile(String name) {
        Path f = dir.resolve(name);
        if (!Files.isRegularFile(f)) {
            if (purpose == Purpose.RESUME || listed(name)) {
                problems.add(listed(name) ? "checkpoint " + dir + " has no " + name + ", which its " + Manifest.FILE + " lists; the checkpoint is incomplete"
                        : "checkpoint " + dir + " has no " + name + ", so it cannot be resumed; use --init to start a new run from its weights");
            }
            return false;
        }
        String problem = manifest == null ? null : manifest.problem(dir, name);
        Manifest.Entry e = manifest == null ? null : manifest.files().get(name);
        files.add(new FileStatus(name, size(f), e == null ? null : e.checksum(), problem));
        if (problem != null) {
            problems.add(name.equals(TRAINER) ? problem.replace("; use another checkpoint",
                    "; the run cannot be resumed from it: use another checkpoint, or --init to start a new run from its weights") : problem);
        }
        return problem == null;
    }

    /** A safetensors file: structure, every tensor's checksum, the manifest's size; returns whether it carries checksums. */
    private boolean tensorFile(String name, java.util.function.Consumer<SafetensorsReader> contents) {
        Path f = dir.resolve(name);
        if (!Files.isRegularFile(f)) {
            problems.add(listed(name) ? "checkpoint " + dir + " has no " + name + ", which its " + Manifest.FILE + " lists; the checkpoint is incomplete"
                    : "checkpoint " + dir + " has no " + name + ", so it cannot be resumed; use --init to start a new run from its weights");
            return false;
        }
        SafetensorsReader r;
        try {
            r = SafetensorsReader.open(f);
        } catch (UserError e) {
            files.add(new FileStatus(name, size(f), null, e.getMessage()));
            problems.add(e.getMessage());
            return false;
        }
        try (r) {
            String fileProblem = manifest == null ? null : manifest.problem(dir, name);
            Manifest.Entry entry = manifest == null ? null : manifest.files().get(name);
            if (fileProblem == null && entry != null && entry.tensors() >= 0 && entry.tensors() != r.names().size()) {
                fileProblem = "damaged checkpoint file " + f + ": it holds " + r.names().size() + " tensors, " + Manifest.FILE + " says "
                        + entry.tensors() + "; use another checkpoint";
            }
            if (fileProblem == null && manifest != null && !r.hasChecksums()) {
                fileProblem = "damaged checkpoint file " + f + ": it carries no checksums, though the checkpoint has a " + Manifest.FILE
                        + " (was it replaced by another file?); use another checkpoint";
            }
            String firstTensorProblem = null;
            for (String t : r.names()) {
                TensorInfo info = r.info(t);
                String problem = attemptFor(() -> r.checksumProblem(t));
                if (problem != null && firstTensorProblem == null) firstTensorProblem = problem;
                tensors.add(new TensorStatus(name, t, info.dtype().name(), info.shape(), r.storedChecksum(t), problem));
            }
            String problem = fileProblem != null ? fileProblem : firstTensorProblem;
            files.add(new FileStatus(name, size(f), null, problem));
            if (problem != null) problems.add(problem);
            if (problem == null && contents != null) attempt(() -> contents.accept(r));
            return r.hasChecksums();
        }
    }

    /** model.safetensors must hold exactly the tensors of {@code config}. */
    static void requireMatches(SafetensorsReader r, LlamaConfig config, Path dir) {
        try {
            HfNames.requireMatches(r, config);
        } catch (UserError e) {
            throw new UserError(e.getMessage() + "; config.json and model.safetensors of " + dir + " must come from the same model", e);
        }
    }

    /** optimizer.safetensors must hold both AdamW moments of every parameter of {@code config}. */
    static void requireMoments(SafetensorsReader r, LlamaConfig config) {
        for (HfNames.Param p : HfNames.params(config)) {
            for (String moment : new String[]{".exp_avg", ".exp_avg_sq"}) {
                if (!r.has(p.name() + moment)) {
                    throw new UserError("checkpoint " + r.path() + " has no tensor \"" + p.name() + moment + "\", so the run cannot be resumed;"
                            + " use --init to start a new run from its weights");
                }
                r.require(p.name() + moment, p.shape());
            }
        }
    }

    private void readTrainerJson() {
        Path f = dir.resolve(TRAINER);
        try {
            JsonElement j = JsonParser.parseString(Files.readString(f));
            JsonObject o = j.getAsJsonObject();
            step = o.get("step").getAsInt();
            layout = o.has("layout") ? o.get("layout").getAsString() : null;
        } catch (IOException | RuntimeException e) {
            throw new UserError("cannot read " + f + "; the checkpoint cannot be resumed, use --init to start a new run from its weights");
        }
    }

    private boolean attempt(Runnable r) {
        try {
            r.run();
            return true;
        } catch (UserError e) {
            problems.add(e.getMessage());
            return false;
        }
    }

    private static String attemptFor(java.util.function.Supplier<String> s) {
        try {
            return s.get();
        } catch (UserError e) {
            return e.getMessage();
        }
    }

    private static long size(Path f) {
        try {
            return Files.size(f);
        } catch (IOException e) {
            return -1;
        }
    }
}
