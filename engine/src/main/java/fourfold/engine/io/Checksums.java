package fourfold.engine.io;

import fourfold.engine.UserError;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.zip.CRC32C;

/**
 * The checksum of checkpoint files: CRC32C (Castagnoli), written as 8 lower-case hex digits.
 *
 * <p>Why CRC32C and not SHA-256: the checksums guard against accidents (a flipped bit on disk, a
 * truncated copy, a file from another save), not against someone who edits a file on purpose and
 * recomputes the sum. For that a 32-bit CRC detects every burst error up to 32 bits and misses a
 * random change with probability 2^-32 per tensor; and {@link CRC32C} is a JIT intrinsic (SSE4.2 /
 * ARMv8 CRC instructions), several GB/s on one core, so every load can afford to verify every
 * byte. SHA-256 is several times slower and would buy only tamper resistance that an unsigned
 * checksum beside the data cannot give anyway.
 */
public final class Checksums {
    public static final String ALGORITHM = "crc32c";

    private Checksums() {}

    public static String hex(long crc) {
        return HexFormat.of().toHexDigits((int) crc);
    }

    public static String of(byte[] bytes) {
        CRC32C c = new CRC32C();
        c.update(bytes);
        return hex(c.getValue());
    }

    /** The checksum of a whole file, streamed. */
    public static String ofFile(Path file) {
        CRC32C c = new CRC32C();
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) c.update(buf, 0, n);
        } catch (IOException e) {
            throw new UserError("cannot read " + file + ": " + e.getMessage());
        }
        return hex(c.getValue());
    }

    /** A running checksum over buffers as they are written or read. */
    public static final class Running {
        private final CRC32C crc = new CRC32C();

        /** Adds the buffer's bytes between position and limit, leaving its position unchanged. */
        public void add(ByteBuffer buf) {
            crc.update(buf.duplicate());
        }

        public void add(byte[] bytes, int off, int len) {
            crc.update(bytes, off, len);
        }

        public String hex() {
            return Checksums.hex(crc.getValue());
        }
    }
}
