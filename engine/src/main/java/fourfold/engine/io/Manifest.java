package fourfold.engine.io;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import fourfold.engine.UserError;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code manifest.json}: what a checkpoint directory must hold. For every file, its size; for the
 * JSON files (config.json, trainer.json), which have no room for a checksum of their own, their
 * CRC32C; the safetensors files carry one per tensor in their header, so the manifest gives their
 * tensor count. Beside that, free-form facts about the save ({@code info}: step, layout, ...).
 *
 * <p>A file that does not match its entry is reported by {@link #problem}; a file the manifest
 * does not list is not its business.
 */
public record Manifest(int format, Map<String, JsonElement> info, Map<String, Entry> files) {
    public static final String FILE = "manifest.json";
    public static final int FORMAT = 1;
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    /** One file: its bytes, and its checksum (null when its contents carry their own) or its tensor count (-1 if none). */
    public record Entry(long bytes, String checksum, int tensors) {}

    /** Describes the files {@code wholeFiles} (checksummed whole) and {@code tensorFiles} (safetensors) of {@code dir}. */
    public static Manifest describe(Path dir, Map<String, JsonElement> info, List<String> wholeFiles, List<String> tensorFiles) {
        Map<String, Entry> files = new LinkedHashMap<>();
        for (String f : wholeFiles) files.put(f, new Entry(size(dir.resolve(f)), Checksums.ofFile(dir.resolve(f)), -1));
        for (String f : tensorFiles) {
            try (SafetensorsReader r = SafetensorsReader.open(dir.resolve(f))) {
                files.put(f, new Entry(size(dir.resolve(f)), null, r.names().size()));
            }
        }
        return new Manifest(FORMAT, new LinkedHashMap<>(info), files);
    }

    public void write(Path dir) throws IOException {
        JsonObject j = new JsonObject();
        j.addProperty("format", format);
        j.addProperty("checksum", Checksums.ALGORITHM);
        info.forEach(j::add);
        JsonObject fs = new JsonObject();
        files.forEach((name, e) -> {
            JsonObject o = new JsonObject();
            o.addProperty("bytes", e.bytes());
            if (e.checksum() != null) o.addProperty(Checksums.ALGORITHM, e.checksum());
            if (e.tensors() >= 0) o.addProperty("tensors", e.tensors());
            fs.add(name, o);
        });
        j.add("files", fs);
        Files.writeString(dir.resolve(FILE), GSON.toJson(j) + "\n");
    }

    /** The manifest of {@code dir}, or null when it has none; a damaged one is a {@link UserError}. */
    public static Manifest read(Path dir) {
        Path f = dir.resolve(FILE);
        String text;
        try {
            text = Files.readString(f);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new UserError("cannot read " + f + ": " + e.getMessage());
        }
        try {
            JsonObject j = JsonParser.parseString(text).getAsJsonObject();
            int format = j.get("format").getAsInt();
            if (format != FORMAT) throw new UserError(f + " has format " + format + ", this fourfold reads format " + FORMAT);
            String algorithm = j.get("checksum").getAsString();
            if (!algorithm.equals(Checksums.ALGORITHM)) throw new UserError(f + " uses checksum " + algorithm + ", this fourfold knows " + Checksums.ALGORITHM);
            Map<String, JsonElement> info = new LinkedHashMap<>();
            for (var e : j.entrySet()) if (!List.of("format", "checksum", "files").contains(e.getKey())) info.put(e.getKey(), e.getValue());
            Map<String, Entry> files = new LinkedHashMap<>();
            for (var e : j.getAsJsonObject("files").entrySet()) {
                JsonObject o = e.getValue().getAsJsonObject();
                files.put(e.getKey(), new Entry(o.get("bytes").getAsLong(),
                        o.has(Checksums.ALGORITHM) ? o.get(Checksums.ALGORITHM).getAsString() : null,
                        o.has("tensors") ? o.get("tensors").getAsInt() : -1));
            }
            return new Manifest(format, info, files);
        } catch (UserError e) {
            throw e;
        } catch (RuntimeException e) {
            throw new UserError("damaged " + f + ": it is not the JSON fourfold writes (" + String.valueOf(e.getMessage()).replaceAll("\\s+", " ")
                    + "); use another checkpoint");
        }
    }

    /** Why {@code name} in {@code dir} does not match its entry, or null when it does (or is not listed). */
    public String problem(Path dir, String name) {
        Entry e = files.get(name);
        if (e == null) return null;
        Path f = dir.resolve(name);
        if (!Files.isRegularFile(f)) return "checkpoint " + dir + " has no " + name + ", which its " + FILE + " lists; the checkpoint is incomplete";
        long bytes = size(f);
        if (e.checksum() != null) {
            String got = Checksums.ofFile(f);
            if (!got.equals(e.checksum())) {
                return "damaged checkpoint file " + f + ": it does not match its checksum in " + FILE + " (" + Checksums.ALGORITHM + " " + got
                        + " of " + bytes + " bytes, saved " + e.checksum() + " of " + e.bytes() + "): it changed after it was written; use another checkpoint";
            }
        } else if (bytes != e.bytes()) {
            return "damaged checkpoint file " + f + ": it has " + bytes + " bytes, " + FILE + " says " + e.bytes()
                    + (bytes < e.bytes() ? " (truncated?)" : "") + "; use another checkpoint";
        }
        return null;
    }

    private static long size(Path f) {
        try {
            return Files.size(f);
        } catch (IOException e) {
            throw new UserError("cannot read " + f + ": " + e.getMessage());
        }
    }
}
