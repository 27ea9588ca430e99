package fourfold.engine.data;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ByteTokenizerTest {
    private static final String MIXED = "First Citizen: héllo — naïve 日本 🙂!\n";

    @Test
    void encodesUtf8BytesAsUnsignedIdsAndDecodesBack() {
        byte[] utf8 = MIXED.getBytes(StandardCharsets.UTF_8);
        int[] ids = ByteTokenizer.encode(MIXED);
        assertEquals(utf8.length, ids.length, "one token per UTF-8 byte");
        for (int i = 0; i < ids.length; i++) {
            assertEquals(utf8[i] & 0xFF, ids[i], "token " + i + " is the unsigned byte");
            assertTrue(ids[i] >= 0 && ids[i] < ByteTokenizer.VOCAB_SIZE, "ids lie in 0..255");
        }
        assertEquals(MIXED, ByteTokenizer.decode(ids), "round trip");
        assertArrayEquals(utf8, ByteTokenizer.toBytes(ids), "bytes round trip");
    }

    @Test
    void everyByteValueRoundTripsAsBytes() {
        byte[] all = new byte[256];
        for (int i = 0; i < 256; i++) all[i] = (byte) i;
        int[] ids = ByteTokenizer.encode(all);
        for (int i = 0; i < 256; i++) assertEquals(i, ids[i], "byte " + i);
        assertArrayEquals(all, ByteTokenizer.toBytes(ids), "all 256 byte values survive");
    }

    @Test
    void decodeReplacesInvalidUtf8InsteadOfFailing() {
        // 0xC3 starts a 2-byte sequence that 'A' does not continue; 0xFF is never valid.
        assertEquals("\uFFFDA\uFFFD", ByteTokenizer.decode(new int[] {0xC3, 'A', 0xFF}));
    }

    @Test
    void streamDecoderHoldsBackIncompleteCharactersUntilTheyComplete() {
        ByteTokenizer.StreamDecoder d = new ByteTokenizer.StreamDecoder();
        StringBuilder out = new StringBuilder();
        for (int id : ByteTokenizer.encode(MIXED)) out.append(d.push(id));
        out.append(d.flush());
        assertEquals(MIXED, out.toString(), "streamed bytes decode to the original text");

        // 🙂 is F0 9F 99 82: nothing until the 4th byte, then the whole character.
        ByteTokenizer.StreamDecoder e = new ByteTokenizer.StreamDecoder();
        int[] smile = ByteTokenizer.encode("🙂");
        assertEquals("", e.push(smile[0]));
        assertEquals("", e.push(smile[1]));
        assertEquals("", e.push(smile[2]));
        assertEquals("🙂", e.push(smile[3]), "released when complete");
    }

    @Test
    void streamDecoderReplacesBrokenAndUnfinishedSequences() {
        ByteTokenizer.StreamDecoder d = new ByteTokenizer.StreamDecoder();
        assertEquals("", d.push(0xE6), "start of a 3-byte character is held back");
        assertEquals("\uFFFDx", d.push('x'), "a non-continuation byte breaks it: U+FFFD then the byte");
        assertEquals("", d.push(0xE6));
        assertEquals("\uFFFD", d.flush(), "an unfinished character at the end becomes U+FFFD");
        assertEquals("ok", d.push('o') + d.push('k'), "the decoder is usable after flush");
    }

    @Test
    void refusesIdsOutsideTheVocabulary() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ByteTokenizer.decode(new int[] {65, 256}));
        assertTrue(e.getMessage().contains("256") && e.getMessage().contains("0..255"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ByteTokenizer.StreamDecoder().push(-1));
    }
}
