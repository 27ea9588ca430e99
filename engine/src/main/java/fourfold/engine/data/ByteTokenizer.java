package fourfold.engine.data;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Byte-level tokenizer: a token is one byte of the UTF-8 encoding, so the vocabulary is 0..255
 * and any text (or any file at all) can be trained on without a learned vocabulary.
 *
 * <p>Generation produces one byte at a time, and a multi-byte character (é, —, emoji) arrives in
 * pieces; {@link StreamDecoder} holds an incomplete sequence back until it is complete, and
 * turns bytes that can never form valid UTF-8 into U+FFFD instead of failing.
 */
public final class ByteTokenizer {
    public static final int VOCAB_SIZE = 256;

    private ByteTokenizer() {}

    /** UTF-8 bytes of {@code text} as token ids 0..255. */
    public static int[] encode(String text) {
        return encode(text.getBytes(StandardCharsets.UTF_8));
    }

    /** Raw bytes as token ids 0..255 (a byte is read unsigned). */
    public static int[] encode(byte[] bytes) {
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) ids[i] = bytes[i] & 0xFF;
        return ids;
    }

    /** Token ids back to bytes; an id outside 0..255 is refused. */
    public static byte[] toBytes(int[] ids) {
        byte[] bytes = new byte[ids.length];
        for (int i = 0; i < ids.length; i++) bytes[i] = (byte) checkId(ids[i]);
        return bytes;
    }

    /** Token ids back to text; invalid UTF-8 (e.g. a cut-off character) becomes U+FFFD. */
    public static String decode(int[] ids) {
        return new String(toBytes(ids), StandardCharsets.UTF_8);
    }

    private static int checkId(int id) {
        if (id < 0 || id >= VOCAB_SIZE) {
            throw new IllegalArgumentException("ByteTokenizer: token id " + id + " is outside the byte vocabulary 0..255");
        }
        return id;
    }

    /**
     * Incremental decoder for streaming generation: {@link #push} returns the text that the new
     * byte completes (often "", while a multi-byte character is still incomplete), and
     * {@link #flush} ends the stream, turning an unfinished sequence into U+FFFD.
     */
    public static final class StreamDecoder {
        private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
        // A UTF-8 sequence is at most 4 bytes; the decoder leaves an incomplete one in here.
        private final ByteBuffer pending = ByteBuffer.allocate(8);
        // One code point is at most 2 chars; 8 covers a replacement plus a complete character.
        private final CharBuffer out = CharBuffer.allocate(8);

        public String push(int id) {
            pending.put((byte) checkId(id));
            pending.flip();
            out.clear();
            decoder.decode(pending, out, false);
            pending.compact();
            out.flip();
            return out.toString();
        }

        public String flush() {
            pending.flip();
            out.clear();
            decoder.decode(pending, out, true);
            decoder.flush(out);
            decoder.reset();
            pending.clear();
            out.flip();
            return out.toString();
        }
    }
}
