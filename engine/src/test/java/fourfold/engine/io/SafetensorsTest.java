package fourfold.engine.io;

import fourfold.engine.UserError;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsTest {
    @TempDir
    Path dir;

    // ---- the format, built by hand (independent of the writer) --------------------------

    /** 8-byte LE header length + header + data: a safetensors file as the spec describes it. */
    private static byte[] rawFile(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
        out.writeBytes(h);
        out.writeBytes(data);
        return out.toByteArray();
    }

    private static byte[] le(int bytes, long... values) {
        ByteBuffer b = ByteBuffer.allocate(bytes * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            switch (bytes) {
                case 2 -> b.putShort((short) v);
                case 4 -> b.putInt((int) v);
                default -> b.putLong(v);
            }
        }
        return b.array();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }

    private Path file(String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }

    @Test
    void writerProducesExactlyTheSpecifiedBytes() throws IOException {
        Path f = dir.resolve("a.safetensors");
        new SafetensorsWriter().add("a", new float[] {1f, -2f}, 2).addInts("ids", new int[] {7, 300}, 1, 2).write(f);
        // Each tensor's CRC32C over its little-endian bytes, computed here with the JDK's CRC32C.
        byte[] a = le(4, Float.floatToIntBits(1f), Float.floatToIntBits(-2f)), ids = le(4, 7, 300);
        String json = "{\"__metadata__\":{\"format\":\"pt\",\"crc32c.a\":\"" + crc32c(a) + "\",\"crc32c.ids\":\"" + crc32c(ids) + "\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"ids\":{\"dtype\":\"I32\",\"shape\":[1,2],\"data_offsets\":[8,16]}}";
        String padded = json + " ".repeat((8 - json.length() % 8) % 8); // data starts 8-byte aligned
        byte[] expected = rawFile(padded, concat(a, ids));
        assertArrayEquals(expected, Files.readAllBytes(f), "header length, padded header and little-endian data");
        assertEquals(0, (8 + padded.length()) % 8);
        try (var dirList = Files.list(dir)) {
            assertEquals(List.of(f), dirList.toList(), "no temporary file left behind");
        }
    }

    @Test
    void readsAHandBuiltFileWithEveryReadableDtype() throws IOException {
        String header = "{\"f\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                + "\"l\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[16,40]},"
                + "\"i\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[40,48]},"
                + "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[48,52]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[52,56]},"
                + "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[56,64]},"
                + "\"u\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[64,65]},"
                + "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[65,65]},"
                + "\"__metadata__\":{\"step\":\"12\"}}    ";
        byte[] data = concat(
                le(4, Float.floatToIntBits(0.5f), Float.floatToIntBits(-1.25f), Float.floatToIntBits(3f), Float.floatToIntBits(1e-7f)),
                le(8, 5, -6, 1L << 20),
                le(4, -1, 2_000_000_000),
                le(2, 0x3C00, 0xC000),                 // F16 1.0, -2.0
                le(2, 0x3F80, 0x4040),                 // BF16 1.0, 3.0
                le(8, Double.doubleToLongBits(0.1)),
                new byte[] {(byte) 200});
        Path f = file("hand.safetensors", rawFile(header, data));
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertEquals(List.of("f", "l", "i", "h", "b", "d", "u", "e"), r.names());
            assertEquals(Map.of("step", "12"), r.metadata());
            assertArrayEquals(new int[] {2, 2}, r.shape("f"));
            assertArrayEquals(new float[] {0.5f, -1.25f, 3f, 1e-7f}, r.floats("f", 2, 2));
            assertArrayEquals(new int[] {5, -6, 1 << 20}, r.ints("l"));
            assertArrayEquals(new int[] {-1, 2_000_000_000}, r.ints("i"));
            assertArrayEquals(new float[] {1f, -2f}, r.floats("h"));
            assertArrayEquals(new float[] {1f, 3f}, r.floats("b"));
            assertArrayEquals(new float[] {0.1f}, r.floats("d"));
            assertArrayEquals(new int[] {200}, r.ints("u"));
            assertArrayEquals(new int[0], r.shape("u"), "a scalar has shape []");
            assertEquals(0, r.floats("e").length, "an empty tensor is allowed");
        }
    }

    @Test
    void roundTripsFloatsSegmentsAndIntsAndReadsIntoMemory() throws IOException {
        int n = 300_000; // larger than one 1 MB staging chunk
        float[] big = new float[n];
        for (int i = 0; i < n; i++) big[i] = (float) Math.sin(i) * i;
        Path f = dir.resolve("rt.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(4L * 6, 64);
            for (int i = 0; i < 6; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, i * 1.5f);
            new SafetensorsWriter().metadata("note", "rt").add("big", big, 600, 500).add("seg", seg, 2, 3)
                    .addInts("tok", new int[] {0, 255, 17}, 3).write(f);

            try (SafetensorsReader r = SafetensorsReader.open(f)) {
                assertEquals(Map.of("format", "pt", "note", "rt"), Map.of("format", r.metadata().get("format"), "note", r.metadata().get("note")));
                assertEquals(java.util.Set.of("format", "note", "crc32c.big", "crc32c.seg", "crc32c.tok"), r.metadata().keySet(),
                        "the metadata: the caller's, and a checksum per tensor");
                assertArrayEquals(big, r.floats("big", 600, 500), "bitwise identical floats");
                assertArrayEquals(new float[] {0, 1.5f, 3, 4.5f, 6, 7.5f}, r.floats("seg", 2, 3));
                assertArrayEquals(new int[] {0, 255, 17}, r.ints("tok"));
                MemorySegment dst = arena.allocate(4L * n, 64);
                r.readInto("big", dst);
                for (int i = 0; i < n; i += 997) assertEquals(big[i], dst.getAtIndex(ValueLayout.JAVA_FLOAT, i), "readInto element " + i);
                assertEquals(big[n - 1], dst.getAtIndex(ValueLayout.JAVA_FLOAT, n - 1));
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> r.readInto("seg", arena.allocate(20)));
                assertTrue(e.getMessage().contains("20 bytes") && e.getMessage().contains("expected 24"), e.getMessage());
            }
        }
    }

    private static String crc32c(byte[] bytes) {
        java.util.zip.CRC32C c = new java.util.zip.CRC32C();
        c.update(bytes);
        return String.format("%08x", c.getValue());
    }

    @Test
    void aFlippedDataByteFailsThatTensorsChecksumOnEveryRead() throws IOException {
        Path f = dir.resolve("flip.safetensors");
        float[] big = new float[300_000]; // spans more than one 1 MB read chunk
        for (int i = 0; i < big.length; i++) big[i] = i * 0.25f;
        try (Arena arena = Arena.ofConfined()) {
            new SafetensorsWriter().add("first", new float[] {1, 2, 3}, 3).add("big", big, 300_000).write(f);
            byte[] bytes = Files.readAllBytes(f);
            bytes[bytes.length - 9] ^= 0x10; // inside "big", the last tensor, not in the header
            Files.write(f, bytes);
            try (SafetensorsReader r = SafetensorsReader.open(f)) {
                assertTrue(r.hasChecksums());
                assertArrayEquals(new float[] {1, 2, 3}, r.floats("first"), "an intact tensor still reads");
                assertEquals(null, r.checksumProblem("first"));
                MemorySegment dst = arena.allocate(4L * big.length, 64);
                for (var read : List.<org.junit.jupiter.api.function.Executable>of(() -> r.floats("big"), () -> r.readInto("big", dst), r::verifyAll)) {
                    UserError e = assertThrows(UserError.class, read);
                    assertTrue(e.getMessage().contains(f + ": tensor \"big\" does not match its checksum (crc32c ")
                            && e.getMessage().contains("saved " + crc32c(le(4, java.util.stream.IntStream.range(0, big.length)
                            .mapToLong(i -> Float.floatToIntBits(big[i])).toArray()))), e.getMessage());
                }
            }
        }
    }

    @Test
    void aFileWithoutChecksumsStillReads() throws IOException {
        Path f = file("plain.safetensors", rawFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", le(4, Float.floatToIntBits(2f))));
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertFalse(r.hasChecksums());
            assertArrayEquals(new float[] {2f}, r.floats("w"));
            r.verifyAll();
        }
    }

    @Test
    void writerRefusesInconsistentInput() {
        SafetensorsWriter w = new SafetensorsWriter().add("x", new float[6], 2, 3);
        IllegalArgumentException dup = assertThrows(IllegalArgumentException.class, () -> w.add("x", new float[1], 1));
        assertTrue(dup.getMessage().contains("added twice"), dup.getMessage());
        IllegalArgumentException shape = assertThrows(IllegalArgumentException.class, () -> w.add("y", new float[5], 2, 3));
        assertTrue(shape.getMessage().contains("(2, 3)") && shape.getMessage().contains("5"), shape.getMessage());
        assertThrows(IllegalArgumentException.class, () -> w.add("__metadata__", new float[1], 1));
    }

    // ---- every corruption is refused with the file's name and the problem ----------------

    private void assertCorrupt(String what, byte[] bytes, String expectedPart) throws IOException {
        Path f = file(what + ".safetensors", bytes);
        UserError e = assertThrows(UserError.class, () -> SafetensorsReader.open(f).close(), what);
        String m = e.getMessage();
        assertTrue(m.contains(f.toString()), what + ": message names the file: " + m);
        assertTrue(m.contains(expectedPart), what + ": message \"" + m + "\" should contain \"" + expectedPart + "\"");
        assertFalse(m.contains("\n"), what + ": one line");
    }

    private static final String OK_ENTRY = "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    @Test
    void refusesTooShortFilesAndBadHeaderLengths() throws IOException {
        assertCorrupt("empty", new byte[0], "fewer than the 8-byte header length");
        assertCorrupt("five", new byte[5], "5 bytes, fewer than the 8-byte header length");
        byte[] past = rawFile("{" + OK_ENTRY + "}", new byte[8]);
        ByteBuffer.wrap(past).order(ByteOrder.LITTLE_ENDIAN).putLong(0, past.length); // claims more than the file
        assertCorrupt("past-end", past, "header length " + past.length + " runs past the end of the file");
        byte[] huge = rawFile("{}", new byte[0]);
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -1L);
        assertCorrupt("huge", huge, "header length 18446744073709551615 runs past the end");
    }

    @Test
    void refusesHeadersThatAreNotStrictJsonObjects() throws IOException {
        assertCorrupt("truncated-json", rawFile("{\"w\":{\"dtype\":", new byte[0]), "not valid JSON");
        assertCorrupt("array", rawFile("[1,2]   ", new byte[0]), "does not start with '{'");
        assertCorrupt("lenient", rawFile("{w:{dtype:F32}}", new byte[0]), "not valid JSON");
        assertCorrupt("trailing", rawFile("{" + OK_ENTRY + "}x", new byte[8]), "not valid JSON");
        byte[] bad = rawFile("{\"ab\":{}}", new byte[0]);
        bad[10] = (byte) 0xFF; // inside the name
        assertCorrupt("invalid-utf8", bad, "not valid UTF-8");
        assertCorrupt("duplicate", rawFile("{" + OK_ENTRY + "," + OK_ENTRY + "}", new byte[8]), "names \"w\" twice");
        assertCorrupt("metadata", rawFile("{\"__metadata__\":{\"a\":1}," + OK_ENTRY + "}", new byte[8]), "__metadata__ value of \"a\" must be a string");
    }

    @Test
    void refusesBadEntries() throws IOException {
        assertCorrupt("unknown-dtype", rawFile("{\"w\":{\"dtype\":\"F31\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]),
                "tensor \"w\" has unknown dtype \"F31\"");
        assertCorrupt("no-dtype", rawFile("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]), "tensor \"w\" has no dtype");
        assertCorrupt("no-shape", rawFile("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", new byte[8]), "has no shape array");
        assertCorrupt("no-offsets", rawFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", new byte[8]), "has no data_offsets array");
        assertCorrupt("negative-dim", rawFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", new byte[8]),
                "expected non-negative integers");
        assertCorrupt("fraction-dim", rawFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", new byte[8]),
                "expected non-negative integers");
        assertCorrupt("three-offsets", rawFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", new byte[8]),
                "expected 2 integers");
        assertCorrupt("backwards", rawFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", new byte[8]),
                "end before they begin");
        assertCorrupt("shape-mismatch", rawFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]),
                "of dtype F32 and shape (3) needs 12 bytes, but its data_offsets [0, 8] span 8");
        assertCorrupt("not-object", rawFile("{\"w\":[1,2]}", new byte[0]), "tensor \"w\" must be a JSON object");
    }

    @Test
    void refusesOffsetsOutsideTheDataOverlapsGapsAndTrailingBytes() throws IOException {
        assertCorrupt("outside", rawFile("{" + OK_ENTRY + "}", new byte[6]), "outside the data section of 6 bytes");
        String a = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
        String b = "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}";
        assertCorrupt("overlap", rawFile("{" + a + "," + b + "}", new byte[12]), "tensors \"a\" [0, 8) and \"b\" [4, 12) overlap");
        String c = "\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}";
        assertCorrupt("gap", rawFile("{" + a + "," + c + "}", new byte[16]), "bytes [8, 12) of the data section belong to no tensor");
        assertCorrupt("trailing-bytes", rawFile("{" + a + "}", new byte[10]), "the data section has 10 bytes but the tensors cover only 8");
    }

    @Test
    void refusesAMissingFileAMissingTensorAndTheWrongDtype() throws IOException {
        Path missing = dir.resolve("none.safetensors");
        UserError e1 = assertThrows(UserError.class, () -> SafetensorsReader.open(missing));
        assertTrue(e1.getMessage().contains(missing + " does not exist"), e1.getMessage());

        Path f = dir.resolve("ok.safetensors");
        new SafetensorsWriter().add("w", new float[] {1, 2}, 2).addInts("t", new int[] {3}, 1).write(f);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            UserError e2 = assertThrows(UserError.class, () -> r.floats("model.norm.weight"));
            assertTrue(e2.getMessage().contains("has no tensor \"model.norm.weight\"") && e2.getMessage().contains("e.g. w, t"), e2.getMessage());
            UserError e3 = assertThrows(UserError.class, () -> r.ints("w"));
            assertTrue(e3.getMessage().contains("dtype F32, expected an integer dtype"), e3.getMessage());
            UserError e4 = assertThrows(UserError.class, () -> r.floats("t"));
            assertTrue(e4.getMessage().contains("dtype I32, expected a floating-point dtype"), e4.getMessage());
            UserError e5 = assertThrows(UserError.class, () -> r.floats("w", 1, 2));
            assertTrue(e5.getMessage().contains("has shape (2), expected (1, 2)"), e5.getMessage());
        }
    }
}
