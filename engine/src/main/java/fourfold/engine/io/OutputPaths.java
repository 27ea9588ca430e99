package fourfold.engine.io;

import fourfold.engine.UserError;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Checks, before a run spends any time, that a file or directory it will write can be created. */
public final class OutputPaths {
    private OutputPaths() {}

    /**
     * {@code target}'s nearest existing ancestor must be a directory where files can really be
     * created. It is probed with a temporary file, deleted at once: permission bits say nothing to
     * root, nor about read-only or special filesystems (/proc), where a run would otherwise train
     * to the end and then fail to save.
     *
     * @param what what will be written, for the message ("checkpoint runs/a", "--metrics-out m.jsonl")
     * @param fix  what the user can do ("choose another --out")
     */
    public static void requireCreatable(Path target, String what, String fix) {
        Path parent = target.toAbsolutePath().getParent();
        Path existing = parent;
        while (existing != null && !Files.exists(existing)) existing = existing.getParent();
        if (existing == null || !Files.isDirectory(existing)) {
            throw new UserError("cannot write " + what + ": " + (existing == null ? parent : existing) + " is not a writable directory; " + fix);
        }
        try {
            Files.delete(Files.createTempFile(existing, ".fourfold-probe-", ".tmp"));
        } catch (IOException | SecurityException e) {
            String reason = e instanceof AccessDeniedException ? "permission denied"
                    : e instanceof FileSystemException f && f.getReason() != null ? f.getReason() : "a test file could not be created there";
            throw new UserError("cannot write " + what + ": " + existing + " is not a writable directory (" + reason + "); " + fix);
        }
    }
}
