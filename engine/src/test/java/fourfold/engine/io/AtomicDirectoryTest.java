package fourfold.engine.io;

import fourfold.engine.UserError;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AtomicDirectoryTest {
    @TempDir
    Path root;

    /** Relative path -> content of every file below {@code dir}. */
    private static Map<String, String> snapshot(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) out.put(dir.relativize(p).toString(), Files.readString(p));
        }
        return out;
    }

    private List<String> entries(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void createsAndReplacesADirectoryLeavingNothingElseBehind() throws IOException {
        Path ckpt = root.resolve("runs/ckpt"); // parent does not exist yet
        AtomicDirectory.write(ckpt, d -> {
            Files.writeString(d.resolve("config.json"), "v1");
            Files.createDirectories(d.resolve("sub"));
            Files.writeString(d.resolve("sub/x"), "x1");
        });
        assertEquals(Map.of("config.json", "v1", "sub/x", "x1"), snapshot(ckpt));

        AtomicDirectory.write(ckpt, d -> Files.writeString(d.resolve("config.json"), "v2"));
        assertEquals(Map.of("config.json", "v2"), snapshot(ckpt), "replaced as a whole: the old sub/x is gone");
        assertEquals(List.of("ckpt"), entries(root.resolve("runs")), "no temporary or old directory left");
    }

    @Test
    void aFailureMidWriteLeavesTheOldDirectoryIntact() throws IOException {
        Path ckpt = root.resolve("ckpt");
        AtomicDirectory.write(ckpt, d -> {
            Files.writeString(d.resolve("model.safetensors"), "old weights");
            Files.writeString(d.resolve("config.json"), "old config");
        });
        Map<String, String> before = snapshot(ckpt);

        UserError e = assertThrows(UserError.class, () -> AtomicDirectory.write(ckpt, d -> {
            Files.writeString(d.resolve("model.safetensors"), "new weights, half writ");
            throw new IOException("No space left on device");
        }));
        assertTrue(e.getMessage().contains("No space left on device") && e.getMessage().contains("previous contents are unchanged"), e.getMessage());
        assertEquals(before, snapshot(ckpt), "old checkpoint untouched");
        assertEquals(List.of("ckpt"), entries(root), "the half-written temporary directory was removed");

        RuntimeException boom = new IllegalStateException("model exploded");
        assertSame(boom, assertThrows(IllegalStateException.class, () -> AtomicDirectory.write(ckpt, d -> {
            Files.writeString(d.resolve("config.json"), "partial");
            throw boom;
        })), "other exceptions propagate unchanged");
        assertEquals(before, snapshot(ckpt), "old checkpoint still untouched");
        assertEquals(List.of("ckpt"), entries(root));
    }

    @Test
    void aCrashBetweenTheTwoRenamesIsRecoveredAndStaleTemporariesAreRemoved() throws IOException {
        // What a crash leaves: the old checkpoint moved aside, the new one still under its temporary name.
        Path old = Files.createDirectories(root.resolve(".ckpt.old-123"));
        Files.writeString(old.resolve("config.json"), "complete old");
        Path tmp = Files.createDirectories(root.resolve(".ckpt.tmp-456"));
        Files.writeString(tmp.resolve("config.json"), "maybe incomplete");
        Path ckpt = root.resolve("ckpt");

        assertTrue(AtomicDirectory.recover(ckpt), "restored");
        assertEquals(Map.of("config.json", "complete old"), snapshot(ckpt));
        assertFalse(AtomicDirectory.recover(ckpt), "nothing left to restore");

        AtomicDirectory.write(ckpt, d -> Files.writeString(d.resolve("config.json"), "new"));
        assertEquals(Map.of("config.json", "new"), snapshot(ckpt));
        assertEquals(List.of("ckpt"), entries(root), "the stale temporary directory was removed by the next write");
    }

    @Test
    void unwritableLocationsAreUserErrors() throws IOException {
        Path notADir = Files.writeString(root.resolve("file"), "I am a file");
        UserError e1 = assertThrows(UserError.class, () -> AtomicDirectory.write(notADir.resolve("ckpt"), d -> { }));
        assertTrue(e1.getMessage().contains(notADir + " is not a directory"), e1.getMessage());

        UserError e2 = assertThrows(UserError.class, () -> AtomicDirectory.write(notADir, d -> { }));
        assertTrue(e2.getMessage().contains("exists and is not a directory"), e2.getMessage());
        assertEquals("I am a file", Files.readString(notADir), "nothing overwritten");
    }
}
