package fourfold.engine.data;

import fourfold.engine.UserError;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The bytes of a text file (any file: the tokenizer is byte-level), split into train and
 * validation like nanoGPT's shakespeare_char: the first 90% train, the last 10% validation.
 *
 * <p>The boundary is {@code trainLength = floor(n * 9 / 10)} in integer arithmetic for a file of
 * n bytes: train = bytes [0, trainLength), validation = bytes [trainLength, n). For the embedded
 * corpus (1,115,394 bytes) that is 1,003,854 train and 111,540 validation bytes, the same cut as
 * {@code int(0.9 * n)} in Python.
 */
public final class TextDataset {
    /** Classpath location of the embedded Tiny Shakespeare corpus (the default data). */
    public static final String EMBEDDED_RESOURCE = "/fourfold/data/tinyshakespeare.txt";
    public static final String EMBEDDED_NAME = "tinyshakespeare.txt (embedded)";

    private final String name;
    private final byte[] bytes;

    private TextDataset(String name, byte[] bytes) {
        if (bytes.length == 0) throw new UserError("data " + name + " is empty; give a file with some text");
        this.name = name;
        this.bytes = bytes;
    }

    /** The embedded Tiny Shakespeare corpus (Karpathy's char-rnn data, 1.1 MB). */
    public static TextDataset embedded() {
        try (InputStream in = TextDataset.class.getResourceAsStream(EMBEDDED_RESOURCE)) {
            if (in == null) throw new IllegalStateException("embedded corpus " + EMBEDDED_RESOURCE + " is missing from the build");
            return new TextDataset(EMBEDDED_NAME, in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException("reading embedded corpus " + EMBEDDED_RESOURCE, e);
        }
    }

    /** Reads a whole file; a missing, unreadable, oversized or empty file is a {@link UserError}. */
    public static TextDataset load(Path file) {
        if (Files.isDirectory(file)) throw new UserError("data file " + file + " is a directory; give a text file with --data");
        long size;
        try {
            size = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new UserError("data file " + file + " does not exist; check the --data path (without --data, the embedded Tiny Shakespeare corpus is used)");
        } catch (IOException e) {
            throw new UserError("cannot read data file " + file + ": " + e.getMessage());
        }
        if (size > Integer.MAX_VALUE - 8) {
            throw new UserError("data file " + file + " has " + size + " bytes; at most 2 GiB is supported");
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new UserError("data file " + file + " does not exist; check the --data path (without --data, the embedded Tiny Shakespeare corpus is used)");
        } catch (AccessDeniedException e) {
            throw new UserError("cannot read data file " + file + ": permission denied");
        } catch (IOException e) {
            throw new UserError("cannot read data file " + file + ": " + e.getMessage());
        }
        if (bytes.length == 0) throw new UserError("data file " + file + " is empty; give --data a file with some text");
        return new TextDataset(file.toString(), bytes);
    }

    /** The embedded corpus when {@code file} is null, else that file (the CLI's --data). */
    public static TextDataset loadOrEmbedded(Path file) {
        return file == null ? embedded() : load(file);
    }

    /** In-memory text (tests, prompts); the name appears in messages. */
    public static TextDataset of(String name, byte[] bytes) {
        return new TextDataset(name, bytes.clone());
    }

    /** Number of train bytes for n bytes of data: floor(n * 9 / 10). */
    public static int trainLength(int n) {
        return (int) ((long) n * 9 / 10);
    }

    public String name() {
        return name;
    }

    public int length() {
        return bytes.length;
    }

    /** All bytes (what {@code eval} scores). */
    public TokenSpan all() {
        return new TokenSpan(name, bytes, 0, bytes.length);
    }

    /** Bytes [0, floor(n*9/10)). */
    public TokenSpan train() {
        int t = trainLength(bytes.length);
        return new TokenSpan("train split of " + name, bytes, 0, t);
    }

    /** Bytes [floor(n*9/10), n). */
    public TokenSpan validation() {
        int t = trainLength(bytes.length);
        return new TokenSpan("validation split of " + name, bytes, t, bytes.length - t);
    }
}
