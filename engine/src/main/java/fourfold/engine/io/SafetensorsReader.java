package fourfold.engine.io;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import fourfold.engine.UserError;
import fourfold.engine.tensor.Shape;

import java.io.IOException;
import java.io.StringReader;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a safetensors file after checking all of it: the 8-byte little-endian header length, the
 * header JSON, every dtype, shape and byte range, and that the tensors tile the data section
 * exactly (no overlap, no gap, nothing after the last one, as the format requires). A file that
 * fails any check is refused with a {@link UserError} naming the file and the problem, before a
 * single tensor is read.
 *
 * <p>Tensors are read on demand: {@link #floats} / {@link #ints} into Java arrays, or
 * {@link #readInto} straight into device memory. When the file carries checksums (the
 * {@code crc32c.NAME} metadata that {@link SafetensorsWriter} writes), every read checks the
 * bytes it read against them, and {@link #verifyAll} checks every tensor without keeping it.
 */
public final class SafetensorsReader implements AutoCloseable {
    /** The safetensors library refuses headers above 100 MB; so do we. */
    static final long MAX_HEADER_BYTES = 100L << 20;

    private static final ValueLayout.OfFloat LE_F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble LE_F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort LE_I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int CHUNK = 1 << 20;

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;   // header order
    private final Map<String, String> metadata;

    private SafetensorsReader(Path path, FileChannel channel, long dataStart, Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Opens and validates {@code file}; close the reader when done. */
    public static SafetensorsReader open(Path file) {
        if (Files.isDirectory(file)) throw new UserError("safetensors file " + file + " is a directory");
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new UserError("safetensors file " + file + " does not exist");
        } catch (IOException e) {
            throw new UserError("cannot read safetensors file " + file + ": " + e);
        }
        try {
            return parse(file, ch);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        } catch (IOException e) {
            closeQuietly(ch);
            throw new UserError("cannot read safetensors file " + file + ": " + e);
        }
    }

    private static SafetensorsReader parse(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 8) throw corrupt(file, "it has " + size + " bytes, fewer than the 8-byte header length");
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0);
        long n = lenBuf.getLong(0);
        // n < 0 is a length of 2^63 or more read as unsigned.
        if (n < 0 || n > size - 8) {
            throw corrupt(file, "header length " + Long.toUnsignedString(n) + " runs past the end of the file (" + size
                    + " bytes): truncated, or not a safetensors file");
        }
        if (n > MAX_HEADER_BYTES) throw corrupt(file, "header length " + n + " exceeds the " + MAX_HEADER_BYTES + "-byte limit");
        if (n < 2) throw corrupt(file, "header length " + n + " is too short for a JSON object");
        ByteBuffer headerBuf = ByteBuffer.allocate((int) n);
        readFully(ch, headerBuf, 8);
        String header;
        try {
            header = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(headerBuf.flip()).toString();
        } catch (CharacterCodingException e) {
            throw corrupt(file, "the header is not valid UTF-8");
        }
        if (!header.startsWith("{")) throw corrupt(file, "the header does not start with '{' (invalid JSON header)");
        Map<String, JsonElement> root = parseStrictJson(file, header);
        long dataSize = size - 8 - n;

        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : root.entrySet()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                if (!e.getValue().isJsonObject()) throw corrupt(file, "__metadata__ must be a JSON object of strings");
                for (Map.Entry<String, JsonElement> m : e.getValue().getAsJsonObject().entrySet()) {
                    JsonElement v = m.getValue();
                    if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
                        throw corrupt(file, "__metadata__ value of \"" + m.getKey() + "\" must be a string, got " + v);
                    }
                    metadata.put(m.getKey(), v.getAsString());
                }
                continue;
            }
            tensors.put(name, parseEntry(file, name, e.getValue(), dataSize));
        }
        checkTiling(file, tensors, dataSize);
        return new SafetensorsReader(file, ch, 8 + n, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    /** The header's top-level entries in order; strict JSON, and a name may appear only once. */
    private static Map<String, JsonElement> parseStrictJson(Path file, String header) {
        Map<String, JsonElement> entries = new LinkedHashMap<>();
        try {
            JsonReader r = new JsonReader(new StringReader(header));
            r.setStrictness(Strictness.STRICT);
            r.beginObject();
            while (r.hasNext()) {
                String name = r.nextName();
                JsonElement value = JsonParser.parseReader(r);
                if (entries.put(name, value) != null) throw corrupt(file, "the header names \"" + name + "\" twice");
            }
            r.endObject();
            if (r.peek() != JsonToken.END_DOCUMENT) throw corrupt(file, "the header has data after its JSON object");
        } catch (JsonParseException | IOException | IllegalStateException e) {
            throw corrupt(file, "the header is not valid JSON (" + oneLine(e.getMessage()) + ")");
        }
        return entries;
    }

    private static TensorInfo parseEntry(Path file, String name, JsonElement v, long dataSize) {
        String what = "tensor \"" + name + "\"";
        if (!v.isJsonObject()) throw corrupt(file, what + " must be a JSON object with dtype, shape and data_offsets, got " + v);
        JsonObject o = v.getAsJsonObject();
        JsonElement dt = o.get("dtype");
        if (dt == null || !dt.isJsonPrimitive() || !dt.getAsJsonPrimitive().isString()) {
            throw corrupt(file, what + " has no dtype string");
        }
        DType dtype = DType.parse(dt.getAsString());
        if (dtype == null) throw corrupt(file, what + " has unknown dtype \"" + dt.getAsString() + "\" (known: " + DType.known() + ")");
        long[] shapeL = longArray(file, what, o, "shape", -1);
        int[] shape = new int[shapeL.length];
        for (int i = 0; i < shape.length; i++) {
            if (shapeL[i] > Integer.MAX_VALUE) throw corrupt(file, what + " has dimension " + shapeL[i] + ", larger than fourfold supports");
            shape[i] = (int) shapeL[i];
        }
        long[] off = longArray(file, what, o, "data_offsets", 2);
        long begin = off[0], end = off[1];
        if (begin > end) throw corrupt(file, what + " has data_offsets [" + begin + ", " + end + "] that end before they begin");
        long numel = 1;
        for (int d : shape) numel = Math.multiplyHigh(numel, d) != 0 ? -1 : numel * d;
        long needed = numel < 0 || numel > Long.MAX_VALUE / dtype.bytes() ? -1 : numel * dtype.bytes();
        if (needed != end - begin) {
            throw corrupt(file, what + " of dtype " + dtype + " and shape " + Shape.str(shape) + " needs " + (needed < 0 ? "too many" : needed)
                    + " bytes, but its data_offsets [" + begin + ", " + end + "] span " + (end - begin));
        }
        if (end > dataSize) {
            throw corrupt(file, what + " has data_offsets [" + begin + ", " + end + "] outside the data section of " + dataSize
                    + " bytes (truncated file?)");
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    /** An array of non-negative integers ({@code length} of them, or any number when -1). */
    private static long[] longArray(Path file, String what, JsonObject o, String key, int length) {
        JsonElement e = o.get(key);
        if (e == null || !e.isJsonArray()) throw corrupt(file, what + " has no " + key + " array");
        JsonArray a = e.getAsJsonArray();
        if (length >= 0 && a.size() != length) throw corrupt(file, what + " has " + key + " " + a + ", expected " + length + " integers");
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            JsonElement x = a.get(i);
            if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isNumber()) {
                throw corrupt(file, what + " has " + key + " " + a + ": expected non-negative integers");
            }
            try {
                out[i] = x.getAsJsonPrimitive().getAsBigDecimal().longValueExact();
            } catch (ArithmeticException ex) {
                throw corrupt(file, what + " has " + key + " " + a + ": expected non-negative integers");
            }
            if (out[i] < 0) throw corrupt(file, what + " has " + key + " " + a + ": expected non-negative integers");
        }
        return out;
    }

    /** The tensors must cover [0, dataSize) exactly, one after another. */
    private static void checkTiling(Path file, Map<String, TensorInfo> tensors, long dataSize) {
        List<TensorInfo> sorted = new ArrayList<>(tensors.values());
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long pos = 0;
        TensorInfo prev = null;
        for (TensorInfo t : sorted) {
            if (t.begin() < pos) {
                throw corrupt(file, "tensors \"" + prev.name() + "\" [" + prev.begin() + ", " + prev.end() + ") and \"" + t.name()
                        + "\" [" + t.begin() + ", " + t.end() + ") overlap");
            }
            if (t.begin() > pos) {
                throw corrupt(file, "bytes [" + pos + ", " + t.begin() + ") of the data section belong to no tensor (gap before \""
                        + t.name() + "\")");
            }
            pos = t.end();
            prev = t;
        }
        if (pos != dataSize) {
            throw corrupt(file, "the data section has " + dataSize + " bytes but the tensors cover only " + pos
                    + " (" + (dataSize - pos) + " bytes belong to no tensor)");
        }
    }

    public Path path() {
        return path;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** Whether the file carries per-tensor checksums (files of other tools usually do not). */
    public boolean hasChecksums() {
        for (String k : metadata.keySet()) if (k.startsWith(Checksums.ALGORITHM + ".")) return true;
        return false;
    }

    /** The checksum stored for {@code name}, or null. */
    public String storedChecksum(String name) {
        return metadata.get(SafetensorsWriter.checksumKey(name));
    }

    /**
     * Why tensor {@code name} fails its checksum (it names file, tensor and both sums), or null
     * when it holds or the file has no checksums. Reads the tensor's bytes, keeping none.
     */
    public String checksumProblem(String name) {
        TensorInfo t = info(name);
        Checksums.Running crc = new Checksums.Running();
        byte[] chunk = new byte[(int) Math.min(CHUNK, Math.max(1, t.byteSize()))];
        ByteBuffer buf = ByteBuffer.wrap(chunk);
        for (long done = 0; done < t.byteSize(); ) {
            int n = (int) Math.min(chunk.length, t.byteSize() - done);
            buf.clear().limit(n);
            readOrFail(buf, dataStart + t.begin() + done);
            crc.add(chunk, 0, n);
            done += n;
        }
        return mismatch(t, crc);
    }

    /** Checks every tensor against its checksum; the first that fails is a {@link UserError}. */
    public void verifyAll() {
        for (String name : tensors.keySet()) {
            String problem = checksumProblem(name);
            if (problem != null) throw new UserError(problem);
        }
    }

    private String mismatch(TensorInfo t, Checksums.Running computed) {
        if (!hasChecksums()) return null;
        String stored = storedChecksum(t.name());
        if (stored == null) {
            return "damaged safetensors file " + path + ": tensor \"" + t.name() + "\" has no " + Checksums.ALGORITHM
                    + " checksum, though the file's other tensors have one; use another checkpoint";
        }
        String got = computed.hex();
        if (got.equals(stored)) return null;
        return "damaged safetensors file " + path + ": tensor \"" + t.name() + "\" does not match its checksum (" + Checksums.ALGORITHM
                + " " + got + ", saved " + stored + "): its bytes changed after it was written; use another checkpoint";
    }

    private void requireChecksum(TensorInfo t, Checksums.Running computed) {
        String problem = mismatch(t, computed);
        if (problem != null) throw new UserError(problem);
    }

    /** Tensor names in header order. */
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    /** The header entry of {@code name}; a missing tensor is a {@link UserError}. */
    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            List<String> some = names().subList(0, Math.min(5, tensors.size()));
            throw new UserError("safetensors file " + path + " has no tensor \"" + name + "\" (it has " + tensors.size() + " tensors"
                    + (some.isEmpty() ? "" : ", e.g. " + String.join(", ", some)) + ")");
        }
        return t;
    }

    public int[] shape(String name) {
        return info(name).shape();
    }

    /** Checks that {@code name} exists with exactly {@code expected} shape. */
    public TensorInfo require(String name, int... expected) {
        TensorInfo t = info(name);
        if (!Arrays.equals(t.shape(), expected)) {
            throw new UserError("safetensors file " + path + ": tensor \"" + name + "\" has shape " + Shape.str(t.shape())
                    + ", expected " + Shape.str(expected));
        }
        return t;
    }

    /** A tensor as floats: F32 as is, F64/F16/BF16 converted; integer dtypes are refused. */
    public float[] floats(String name) {
        TensorInfo t = info(name);
        float[] out = new float[arrayLength(t)];
        byte[] raw = readBytes(t);
        MemorySegment src = MemorySegment.ofArray(raw);
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(src, LE_F32, 0, out, 0, out.length);
            case F64 -> { for (int i = 0; i < out.length; i++) out[i] = (float) src.getAtIndex(LE_F64, i); }
            case F16 -> { for (int i = 0; i < out.length; i++) out[i] = Float.float16ToFloat(src.getAtIndex(LE_I16, i)); }
            case BF16 -> { for (int i = 0; i < out.length; i++) out[i] = Float.intBitsToFloat((src.getAtIndex(LE_I16, i) & 0xFFFF) << 16); }
            default -> throw new UserError("safetensors file " + path + ": tensor \"" + name + "\" has dtype " + t.dtype()
                    + ", expected a floating-point dtype (F32, F64, F16, BF16)");
        }
        return out;
    }

    /** {@link #floats(String)} after checking the shape. */
    public float[] floats(String name, int... expectedShape) {
        require(name, expectedShape);
        return floats(name);
    }

    /** A tensor as ints: I32 as is, I64 and U8 converted (I64 values must fit in an int). */
    public int[] ints(String name) {
        TensorInfo t = info(name);
        int[] out = new int[arrayLength(t)];
        MemorySegment src = MemorySegment.ofArray(readBytes(t));
        switch (t.dtype()) {
            case I32 -> MemorySegment.copy(src, LE_I32, 0, out, 0, out.length);
            case I64 -> {
                for (int i = 0; i < out.length; i++) {
                    long v = src.getAtIndex(LE_I64, i);
                    if (v != (int) v) throw new UserError("safetensors file " + path + ": tensor \"" + name + "\" holds " + v + ", too large for an int");
                    out[i] = (int) v;
                }
            }
            case U8 -> { for (int i = 0; i < out.length; i++) out[i] = src.get(ValueLayout.JAVA_BYTE, i) & 0xFF; }
            default -> throw new UserError("safetensors file " + path + ": tensor \"" + name + "\" has dtype " + t.dtype()
                    + ", expected an integer dtype (I32, I64, U8)");
        }
        return out;
    }

    /**
     * Copies an F32 tensor straight into {@code dst} (e.g. a device tensor's segment), which must
     * hold exactly its bytes. Streams in 1 MB chunks, so no full-size heap copy is made.
     */
    public void readInto(String name, MemorySegment dst) {
        TensorInfo t = info(name);
        if (t.dtype() != DType.F32) {
            throw new UserError("safetensors file " + path + ": tensor \"" + name + "\" has dtype " + t.dtype() + ", expected F32");
        }
        if (dst.byteSize() != t.byteSize()) {
            throw new IllegalArgumentException("readInto " + name + Shape.str(t.shape()) + ": destination has " + dst.byteSize()
                    + " bytes, expected " + t.byteSize());
        }
        byte[] chunk = new byte[(int) Math.min(CHUNK, Math.max(4, t.byteSize()))];
        ByteBuffer buf = ByteBuffer.wrap(chunk);
        MemorySegment src = MemorySegment.ofArray(chunk);
        Checksums.Running crc = new Checksums.Running();
        for (long done = 0; done < t.byteSize(); ) {
            int n = (int) Math.min(chunk.length, t.byteSize() - done);
            buf.clear().limit(n);
            readOrFail(buf, dataStart + t.begin() + done);
            crc.add(chunk, 0, n);
            MemorySegment.copy(src, LE_F32, 0, dst, ValueLayout.JAVA_FLOAT_UNALIGNED, done, n / Float.BYTES);
            done += n;
        }
        requireChecksum(t, crc);
    }

    private int arrayLength(TensorInfo t) {
        if (t.numel() > Integer.MAX_VALUE - 8) {
            throw new UserError("safetensors file " + path + ": tensor \"" + t.name() + "\" has " + t.numel() + " elements, too many for one array");
        }
        return (int) t.numel();
    }

    private byte[] readBytes(TensorInfo t) {
        byte[] raw = new byte[(int) t.byteSize()];
        readOrFail(ByteBuffer.wrap(raw), dataStart + t.begin());
        Checksums.Running crc = new Checksums.Running();
        crc.add(raw, 0, raw.length);
        requireChecksum(t, crc);
        return raw;
    }

    private void readOrFail(ByteBuffer buf, long position) {
        try {
            readFully(channel, buf, position);
        } catch (IOException e) {
            throw new UserError("cannot read safetensors file " + path + ": " + e);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        while (buf.hasRemaining()) {
            int r = ch.read(buf, position);
            if (r < 0) throw new IOException("unexpected end of file at byte " + position);
            position += r;
        }
    }

    private static UserError corrupt(Path file, String problem) {
        return new UserError("corrupt safetensors file " + file + ": " + problem);
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replace('\n', ' ');
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // already failing with a clearer error
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new UserError("cannot close safetensors file " + path + ": " + e);
        }
    }
}
