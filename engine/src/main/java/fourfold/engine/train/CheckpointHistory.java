package fourfold.engine.train;

import fourfold.engine.UserError;
import fourfold.engine.io.AtomicDirectory;
import fourfold.engine.io.CrashPoints;
import fourfold.engine.io.OutputPaths;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A run directory ({@code fourfold train --out}): one checkpoint per save in {@code step-NNNNNN/},
 * and {@code latest}, a one-line text file naming the newest complete one.
 *
 * <p>A save writes its step directory atomically ({@link AtomicDirectory}), then replaces
 * {@code latest} atomically (a temporary file, fsynced, renamed over it), then removes the oldest
 * step directories beyond {@code keep}. So at any moment {@code latest} names a complete
 * checkpoint, and a crash leaves at most a hidden {@code .step-NNNNNN.tmp-*} directory (or a step
 * directory newer than {@code latest}), which loaders ignore and the next save removes. The
 * pointer is a file, not a symbolic link, so that a copy of the run directory by any tool (scp,
 * zip, a cloud bucket, Windows) keeps it working; DeepSpeed's {@code latest} file does the same.
 *
 * <p>Checkpoints in the run directory with a step above the one this run started from belong to
 * an earlier run (or to a continuation this run replaces): they are removed once this run's
 * first checkpoint is complete, as {@code --out} always replaced what was there.
 */
public final class CheckpointHistory {
    public static final String LATEST = "latest";
    public static final int DEFAULT_KEEP = 3;
    private static final Pattern STEP_DIR = Pattern.compile("step-(\\d{6,9})");

    private final Path runDir;
    private final int keep;
    private final int startStep;
    private final List<String> notes = new ArrayList<>();
    private List<Path> superseded; // found at the first save

    /** @param keep step directories kept after each save (0: all) */
    public CheckpointHistory(Path runDir, int keep, int startStep) {
        this.runDir = runDir;
        this.keep = keep;
        this.startStep = startStep;
    }

    public static String name(int step) {
        return String.format(Locale.ROOT, "step-%06d", step);
    }

    /** What the saves removed that the user may want to hear about. */
    public List<String> notes() {
        return List.copyOf(notes);
    }

    /** Writes step {@code step}'s checkpoint, moves {@code latest} to it, drops the oldest beyond keep. */
    public Path save(int step, AtomicDirectory.Contents contents) {
        if (superseded == null) {
            adoptOldLatest();
            superseded = new ArrayList<>();
            for (Path p : steps(runDir)) if (stepOf(p) > startStep) superseded.add(p);
        }
        removePartials(runDir);
        Path dir = runDir.resolve(name(step));
        AtomicDirectory.write(dir, contents);
        CrashPoints.reached("before-pointer");
        writePointer(name(step));
        List<String> removed = new ArrayList<>();
        for (Path p : superseded) {
            if (!p.equals(dir) && delete(p)) removed.add(p.getFileName().toString());
        }
        if (!removed.isEmpty()) {
            notes.add("removed " + String.join(", ", removed) + " from " + runDir + ": saved by an earlier run, after step " + startStep
                    + " where this run started");
        }
        superseded = List.of();
        if (keep > 0) {
            List<Path> history = new ArrayList<>();
            for (Path p : steps(runDir)) if (stepOf(p) <= step) history.add(p);
            for (Path p : history.subList(Math.min(keep, history.size()), history.size())) delete(p);
        }
        return dir;
    }

    /**
     * The directory that {@code --out} names, checked before a run spends any time: a run
     * directory (new or existing) where files can be created, or a {@code latest} pointer file
     * (its run directory). A single checkpoint directory is refused: --out takes the run directory.
     */
    public static Path requireRunDirectory(Path out) {
        if (Files.isRegularFile(out)) {
            if (pointerIn(out) != null) return out.toAbsolutePath().getParent();
            throw new UserError("cannot write checkpoints to " + out + ": it exists and is not a directory; choose another --out");
        }
        if (Files.isRegularFile(out.resolve(CheckpointCheck.CONFIG))) {
            Path parent = out.toAbsolutePath().normalize().getParent();
            throw new UserError("--out " + out + " is a checkpoint, not a run directory: --out names the directory that holds step-NNNNNN"
                    + " checkpoints and the latest pointer; give a new or run directory (e.g. --out " + (parent == null ? "runs/new" : parent.resolve("run")) + ")");
        }
        OutputPaths.requireCreatable(out.resolve(LATEST), "checkpoints to " + out, "choose another --out");
        return out;
    }

    // ---- reading a run directory ----------------------------------------------------------------

    /** A checkpoint directory to load, and the notes to show about how it was chosen. */
    public record Resolved(Path dir, List<String> notes) {}

    /**
     * The checkpoint that {@code given} names, verified for {@code purpose}: a checkpoint directory
     * as it is; a run directory (or its {@code latest} file): the newest intact checkpoint, at or
     * below the one {@code latest} names, skipping damaged ones (each skip is a note).
     */
    public static Resolved resolve(Path given, CheckpointCheck.Purpose purpose) {
        Path runDir = Files.isRegularFile(given) && pointerIn(given) != null ? given.toAbsolutePath().getParent()
                : isRunDirectory(given) ? given : null;
        if (runDir == null) return new Resolved(given, CheckpointCheck.verify(given, purpose));
        Path shown = given.equals(runDir) ? given : given.getParent() != null ? given.getParent() : runDir;
        List<String> notes = new ArrayList<>();
        List<Path> candidates = candidates(shown, notes);
        List<String> skipped = new ArrayList<>();
        for (Path c : candidates) {
            CheckpointCheck.Report r = CheckpointCheck.inspect(c, purpose);
            if (r.intact()) {
                if (!skipped.isEmpty()) notes.add("using " + c + ", the newest intact checkpoint in " + shown);
                notes.addAll(r.notes());
                return new Resolved(c, notes);
            }
            skipped.add(c.getFileName() + ": " + r.problems().getFirst());
            notes.add("skipped " + c + ", it is damaged: " + r.problems().getFirst());
        }
        if (candidates.isEmpty()) throw new UserError("run directory " + shown + " holds no complete checkpoint yet; give another one");
        throw new UserError("run directory " + shown + " holds no intact checkpoint: " + String.join("; ", skipped));
    }

    /** The checkpoints a load may take, newest first: latest, then older step directories. */
    private static List<Path> candidates(Path runDir, List<String> notes) {
        List<Path> out = new ArrayList<>();
        Path latest = runDir.resolve(LATEST);
        String pointer = pointer(runDir);
        long ceiling = Long.MAX_VALUE;
        if (Files.isDirectory(latest, LinkOption.NOFOLLOW_LINKS)) {
            out.add(latest); // a checkpoint written by fourfold before run directories
        } else if (pointer != null) {
            ceiling = stepOf(runDir.resolve(pointer));
            if (Files.isDirectory(runDir.resolve(pointer))) out.add(runDir.resolve(pointer));
            else notes.add(latest + " names " + pointer + ", which does not exist; taking the newest older checkpoint");
        }
        for (Path p : steps(runDir)) {
            long s = stepOf(p);
            if (s < ceiling) out.add(p);
            else if (s > ceiling) notes.add("ignored " + p + ": newer than " + LATEST + " (" + pointer + "), its save did not finish");
        }
        return out;
    }

    /** Whether {@code dir} is a run directory: it has a latest pointer or step directories, and is no checkpoint itself. */
    public static boolean isRunDirectory(Path dir) {
        if (!Files.isDirectory(dir) || Files.isRegularFile(dir.resolve(CheckpointCheck.CONFIG))) return false;
        return pointer(dir) != null || !steps(dir).isEmpty() || Files.isDirectory(dir.resolve(LATEST));
    }

    /** The step directory name that {@code latest} holds, or null. */
    public static String pointer(Path runDir) {
        Path f = runDir.resolve(LATEST);
        return Files.isRegularFile(f) ? pointerIn(f) : null;
    }

    /** The checkpoint {@code latest} names, or null. */
    public static Path latest(Path runDir) {
        String p = pointer(runDir);
        return p == null ? null : runDir.resolve(p);
    }

    private static String pointerIn(Path file) {
        try {
            if (Files.size(file) > 64) return null;
            String s = Files.readString(file, StandardCharsets.UTF_8).strip();
            return STEP_DIR.matcher(s).matches() ? s : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Step directories, newest (highest step) first. */
    public static List<Path> steps(Path runDir) {
        List<Path> out = new ArrayList<>();
        for (Path p : list(runDir)) {
            if (STEP_DIR.matcher(p.getFileName().toString()).matches() && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) out.add(p);
        }
        out.sort(Comparator.comparingLong(CheckpointHistory::stepOf).reversed());
        return out;
    }

    /** What crashed saves left: hidden temporary step directories and pointer files. */
    public static List<Path> partials(Path runDir) {
        List<Path> out = new ArrayList<>();
        for (Path p : list(runDir)) {
            String n = p.getFileName().toString();
            if ((n.startsWith(".step-") && n.contains(".tmp-")) || (n.startsWith("." + LATEST + ".") && n.endsWith(".tmp"))) out.add(p);
        }
        return out;
    }

    static long stepOf(Path stepDir) {
        Matcher m = STEP_DIR.matcher(stepDir.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    // ---- writing ----------------------------------------------------------------------------------

    private void writePointer(String target) {
        Path tmp = null;
        try {
            tmp = Files.createTempFile(runDir, "." + LATEST + ".", ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ch.write(StandardCharsets.UTF_8.encode(target + "\n"));
                ch.force(true);
            }
            Files.move(tmp, runDir.resolve(LATEST), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            tmp = null;
            try (FileChannel d = FileChannel.open(runDir, StandardOpenOption.READ)) {
                d.force(true);
            } catch (IOException e) {
                // directories cannot be fsynced on every platform; the rename is atomic all the same
            }
        } catch (IOException e) {
            throw new UserError("cannot write " + runDir.resolve(LATEST) + ": " + e.getMessage() + "; the checkpoint " + target + " is complete");
        } finally {
            if (tmp != null) delete(tmp);
        }
    }

    /** {@code latest} as a directory: a checkpoint of a fourfold from before run directories. It becomes a step directory. */
    private void adoptOldLatest() {
        Path latest = runDir.resolve(LATEST);
        if (!Files.isDirectory(latest, LinkOption.NOFOLLOW_LINKS)) return;
        if (!Files.isRegularFile(latest.resolve(CheckpointCheck.CONFIG))) {
            throw new UserError(latest + " is a directory but no checkpoint; fourfold keeps its latest pointer file there: move it away or choose another --out");
        }
        int step = Files.isRegularFile(latest.resolve(CheckpointCheck.TRAINER)) ? Checkpoints.readStep(latest) : 0;
        Path to = runDir.resolve(name(step));
        if (Files.exists(to)) to = runDir.resolve(LATEST + ".old-" + System.currentTimeMillis());
        try {
            Files.move(latest, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UserError("cannot rename " + latest + " to " + to + " (to make room for the latest pointer): " + e.getMessage());
        }
        notes.add("renamed " + latest + ", a checkpoint of an older fourfold, to " + to);
    }

    private static void removePartials(Path runDir) {
        for (Path p : partials(runDir)) delete(p);
        // A replace of a step directory that a crash interrupted: put the previous one back.
        for (Path p : list(runDir)) {
            String n = p.getFileName().toString();
            int old = n.indexOf(".old-");
            if (n.startsWith(".step-") && old > 0) AtomicDirectory.recover(runDir.resolve(n.substring(1, old)));
        }
    }

    private static boolean delete(Path p) {
        try {
            AtomicDirectory.deleteTree(p);
            return true;
        } catch (IOException e) {
            return false; // left for the next save
        }
    }

    private static List<Path> list(Path dir) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) out.add(p);
        } catch (IOException e) {
            // unreadable: nothing to list; a write there reports the problem
        }
        return out;
    }
}
