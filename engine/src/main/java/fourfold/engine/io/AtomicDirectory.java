package fourfold.engine.io;

import fourfold.engine.UserError;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Writes a directory (a checkpoint) so that a crash at any moment leaves either the previous
 * complete directory or the new complete one, never a half-written one.
 *
 * <p>How: the contents are written into {@code .NAME.tmp-XXXX} beside the target (same parent,
 * so the same file system and rename is atomic), every file and the directory are fsynced, and
 * then it is renamed into place. A directory cannot be renamed over a non-empty one, so an
 * existing target is first renamed to {@code .NAME.old-XXXX}, the new one renamed to NAME, and
 * only then is the old one deleted. A crash between those two renames leaves no NAME but a
 * complete {@code .NAME.old-XXXX}; {@link #recover} (called by every write, and by readers
 * before they load) renames it back. Stale {@code .tmp-} directories of crashed writes are
 * removed by the next write.
 *
 * <p>Two processes writing the same target at once are not supported.
 */
public final class AtomicDirectory {
    private AtomicDirectory() {}

    /** Writes files into the (empty, temporary) directory it is given. */
    @FunctionalInterface
    public interface Contents {
        void writeTo(Path dir) throws IOException;
    }

    /**
     * Creates or replaces directory {@code target} with what {@code contents} writes. If
     * {@code contents} throws, the temporary directory is deleted, {@code target} is left as it
     * was, and the exception propagates (an IOException as a {@link UserError}).
     */
    public static void write(Path target, Contents contents) {
        Path abs = target.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        String name = abs.getFileName().toString();
        if (Files.exists(abs) && !Files.isDirectory(abs)) {
            throw new UserError("cannot write " + target + ": it exists and is not a directory");
        }
        try {
            Files.createDirectories(parent);
        } catch (FileAlreadyExistsException | NotDirectoryException e) {
            throw new UserError("cannot write " + target + ": " + parent + " is not a directory");
        } catch (AccessDeniedException e) {
            throw new UserError("cannot write " + target + ": cannot create " + parent + " (permission denied)");
        } catch (IOException e) {
            throw new UserError("cannot write " + target + ": cannot create " + parent + " (" + e + ")");
        }
        recover(abs);
        deleteStale(parent, "." + name + ".tmp-");

        Path tmp;
        try {
            tmp = Files.createTempDirectory(parent, "." + name + ".tmp-");
        } catch (AccessDeniedException e) {
            throw new UserError("cannot write " + target + ": " + parent + " is not writable (permission denied); choose another output directory");
        } catch (IOException e) {
            throw new UserError("cannot write " + target + ": cannot create a directory in " + parent + " (" + e + ")");
        }

        boolean done = false;
        try {
            contents.writeTo(tmp);
            syncTree(tmp);
            CrashPoints.reached("directory-written");
            if (Files.exists(abs)) {
                Path old = parent.resolve("." + name + ".old-" + tmp.getFileName().toString().substring(name.length() + 6));
                Files.move(abs, old, StandardCopyOption.ATOMIC_MOVE);
                try {
                    Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
                } catch (IOException e) {
                    Files.move(old, abs, StandardCopyOption.ATOMIC_MOVE); // put the previous one back
                    throw e;
                }
                syncDir(parent);
                deleteTree(old);
            } else {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
                syncDir(parent);
            }
            done = true;
        } catch (AccessDeniedException e) {
            throw new UserError("cannot write " + target + ": permission denied (" + e.getFile() + "); the previous contents are unchanged");
        } catch (IOException e) {
            throw new UserError("cannot write " + target + ": " + e + "; the previous contents are unchanged");
        } finally {
            if (!done) deleteQuietly(tmp);
        }
    }

    /**
     * Finishes a replace that a crash interrupted: if {@code target} is missing but a complete
     * {@code .NAME.old-*} copy exists (the newest one), renames it back to {@code target}.
     * Returns whether anything was restored.
     */
    public static boolean recover(Path target) {
        Path abs = target.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        String prefix = "." + abs.getFileName() + ".old-";
        List<Path> olds = siblings(parent, prefix);
        if (olds.isEmpty()) return false;
        if (Files.exists(abs)) {
            // The new directory made it into place; only the deletion of the old one was lost.
            for (Path p : olds) deleteQuietly(p);
            return false;
        }
        olds.sort(Comparator.comparing(AtomicDirectory::modified).reversed());
        try {
            Files.move(olds.get(0), abs, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UserError("cannot restore " + target + " from " + olds.get(0) + " after an interrupted write: " + e);
        }
        for (Path p : olds.subList(1, olds.size())) deleteQuietly(p);
        return true;
    }

    private static long modified(Path p) {
        try {
            return Files.getLastModifiedTime(p).toMillis();
        } catch (IOException e) {
            return 0;
        }
    }

    private static void deleteStale(Path parent, String prefix) {
        for (Path p : siblings(parent, prefix)) deleteQuietly(p);
    }

    private static List<Path> siblings(Path parent, String prefix) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(parent)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(parent, p -> p.getFileName().toString().startsWith(prefix))) {
            for (Path p : ds) out.add(p);
        } catch (IOException e) {
            // unreadable parent: the write itself will report it
        }
        return out;
    }

    /** fsync every regular file below {@code dir}, then the directories (so the names are durable too). */
    private static void syncTree(Path dir) throws IOException {
        List<Path> dirs = new ArrayList<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (Files.isRegularFile(p)) {
                    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                        ch.force(true);
                    }
                } else if (Files.isDirectory(p)) {
                    dirs.add(p);
                }
            }
        }
        for (Path d : dirs) syncDir(d);
    }

    /** fsync of a directory: Linux supports it through a read-only channel; elsewhere it is skipped. */
    static void syncDir(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // not supported on this platform (e.g. Windows); the renames are still atomic
        }
    }

    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) return;
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    private static void deleteQuietly(Path root) {
        try {
            deleteTree(root);
        } catch (IOException e) {
            // best effort: a leftover hidden directory is removed by the next write
        }
    }
}
