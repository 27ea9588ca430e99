package fourfold.engine.io;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import fourfold.engine.UserError;
import fourfold.engine.tensor.Shape;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes a safetensors file: an 8-byte little-endian header length, a JSON header padded with
 * spaces to a multiple of 8 bytes (so the data starts 8-aligned), then every tensor's bytes,
 * little-endian, in the order they were added.
 *
 * <p>Tensors are registered first ({@code add}) and streamed at {@link #write}: a
 * {@link MemorySegment} source (a device tensor) is copied through a small staging buffer, never
 * as a whole heap array, and must stay alive until {@code write} returns. The file is written
 * under a temporary name in the same folder, fsynced and renamed, so it is either complete or
 * absent.
 *
 * <p>The metadata starts as {@code {"format": "pt"}}: transformers' {@code from_pretrained}
 * refuses a safetensors checkpoint without it. Every tensor's CRC32C ({@link Checksums}) is added
 * as {@code "crc32c.NAME": "8 hex digits"}, strings like all metadata, so any safetensors reader
 * still loads the file. The sums are computed while the data is written and the header is
 * rewritten in place at the end (hex digits have a fixed width, so its length does not change).
 */
public final class SafetensorsWriter {
    private static final ValueLayout.OfFloat LE_F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int CHUNK = 1 << 20;
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    private record Entry(String name, DType dtype, int[] shape, MemorySegment source, ValueLayout layout) {}

    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final List<Entry> entries = new ArrayList<>();
    private final Set<String> names = new LinkedHashSet<>();

    public SafetensorsWriter() {
        metadata.put("format", "pt");
    }

    /** Adds (or replaces) a {@code __metadata__} string. */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** An F32 tensor from a heap array (kept by reference until {@link #write}). */
    public SafetensorsWriter add(String name, float[] values, int... shape) {
        return add(name, DType.F32, shape, MemorySegment.ofArray(values), ValueLayout.JAVA_FLOAT_UNALIGNED, values.length);
    }

    /** An F32 tensor from memory in native order, e.g. {@code tensor.segment()}; read at {@link #write}. */
    public SafetensorsWriter add(String name, MemorySegment values, int... shape) {
        if (values.byteSize() % Float.BYTES != 0) {
            throw new IllegalArgumentException("safetensors add " + name + ": segment of " + values.byteSize() + " bytes is not whole floats");
        }
        return add(name, DType.F32, shape, values, ValueLayout.JAVA_FLOAT_UNALIGNED, values.byteSize() / Float.BYTES);
    }

    /** An I32 tensor (e.g. token ids). */
    public SafetensorsWriter addInts(String name, int[] values, int... shape) {
        return add(name, DType.I32, shape, MemorySegment.ofArray(values), ValueLayout.JAVA_INT_UNALIGNED, values.length);
    }

    private SafetensorsWriter add(String name, DType dtype, int[] shape, MemorySegment source, ValueLayout layout, long count) {
        if (name == null || name.isEmpty() || name.equals("__metadata__")) {
            throw new IllegalArgumentException("safetensors add: invalid tensor name \"" + name + "\"");
        }
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("safetensors add " + name + ": negative dimension in shape " + Shape.str(shape));
        }
        if (Shape.numel(shape) != count) {
            throw new IllegalArgumentException("safetensors add " + name + ": shape " + Shape.str(shape) + " holds " + Shape.numel(shape)
                    + " elements, but the data has " + count);
        }
        if (!names.add(name)) throw new IllegalArgumentException("safetensors add: tensor \"" + name + "\" added twice");
        entries.add(new Entry(name, dtype, shape.clone(), source, layout));
        return this;
    }

    /** The metadata key of a tensor's checksum. */
    public static String checksumKey(String tensor) {
        return Checksums.ALGORITHM + "." + tensor;
    }

    /** The header JSON with these tensor checksums, padded with spaces to a multiple of 8 bytes. */
    byte[] header(List<String> checksums) {
        JsonObject h = new JsonObject();
        JsonObject m = new JsonObject();
        metadata.forEach(m::addProperty);
        for (int i = 0; i < entries.size(); i++) m.addProperty(checksumKey(entries.get(i).name), checksums.get(i));
        if (!m.isEmpty()) h.add("__metadata__", m);
        long offset = 0;
        for (Entry e : entries) {
            long bytes = Shape.numel(e.shape) * e.dtype.bytes();
            JsonObject t = new JsonObject();
            t.addProperty("dtype", e.dtype.name());
            JsonArray shape = new JsonArray();
            for (int d : e.shape) shape.add(d);
            t.add("shape", shape);
            JsonArray offsets = new JsonArray();
            offsets.add(offset);
            offsets.add(offset + bytes);
            t.add("data_offsets", offsets);
            h.add(e.name, t);
            offset += bytes;
        }
        byte[] json = GSON.toJson(h).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = new byte[padded];
        System.arraycopy(json, 0, out, 0, json.length);
        for (int i = json.length; i < padded; i++) out[i] = ' ';
        return out;
    }

    /** Writes the file (temporary name, fsync, rename); an I/O failure is a {@link UserError}. */
    public void write(Path file) {
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                byte[] placeholder = header(Collections.nCopies(entries.size(), Checksums.hex(0)));
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, placeholder.length);
                writeFully(ch, len);
                writeFully(ch, ByteBuffer.wrap(placeholder));
                ByteBuffer stage = ByteBuffer.allocateDirect(CHUNK);
                MemorySegment stageSeg = MemorySegment.ofBuffer(stage);
                List<String> checksums = new ArrayList<>();
                for (Entry e : entries) {
                    checksums.add(writeEntry(ch, e, stage, stageSeg));
                    CrashPoints.reached(file.getFileName() + ":" + checksums.size());
                }
                byte[] header = header(checksums);
                if (header.length != placeholder.length) throw new IllegalStateException("safetensors header changed length");
                ch.position(8);
                writeFully(ch, ByteBuffer.wrap(header));
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            tmp = null;
        } catch (AccessDeniedException e) {
            throw new UserError("cannot write safetensors file " + file + ": permission denied");
        } catch (IOException e) {
            throw new UserError("cannot write safetensors file " + file + ": " + e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the write already failed; a leftover hidden .tmp file is harmless
                }
            }
        }
    }

    /** Writes one tensor's bytes and returns their checksum. */
    private static String writeEntry(FileChannel ch, Entry e, ByteBuffer stage, MemorySegment stageSeg) throws IOException {
        Checksums.Running crc = new Checksums.Running();
        int elem = e.dtype.bytes();
        long total = Shape.numel(e.shape);
        int perChunk = CHUNK / elem;
        for (long done = 0; done < total; ) {
            int n = (int) Math.min(perChunk, total - done);
            // Copy with an explicit little-endian layout on the file side: correct on any host order.
            MemorySegment.copy(e.source, e.layout, done * elem, stageSeg, e.dtype == DType.F32 ? LE_F32 : LE_I32, 0, n);
            stage.clear().limit(n * elem);
            crc.add(stage);
            writeFully(ch, stage);
            done += n;
        }
        return crc.hex();
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
    }
}
