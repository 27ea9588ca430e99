package fourfold.engine.data;

import fourfold.engine.UserError;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DocumentsTest {
    static int[] bytes(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        int[] t = new int[b.length];
        for (int i = 0; i < b.length; i++) t[i] = b[i] & 0xFF;
        return t;
    }

    @Test
    void aDocumentEndsRightAfterEachCompleteDelimiter() {
        // "ab\n\ncd\n\n\n\nef": documents "ab\n\n", "cd\n\n", "\n\n", "ef" (occurrences do not overlap)
        int[] in = bytes("ab\n\ncd\n\n\n\nef");
        Documents.Packing p = Documents.standard().pack(in, 1, in.length);
        assertArrayEquals(new int[] {0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 10, 10}, p.doc(), "document ids (first token's index)");
        assertArrayEquals(new int[] {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 0, 1}, p.position(), "positions restart per document");
    }

    @Test
    void eachRowIsScannedFromItsStartAndOddRunsSplitOnce() {
        // row 0 "x\n\n\ny" -> "x\n\n", "\ny"; row 1 starts a new document whatever row 0 ended with
        int[] in = new int[10];
        System.arraycopy(bytes("x\n\n\ny"), 0, in, 0, 5);
        System.arraycopy(bytes("\nabcd"), 0, in, 5, 5);
        Documents.Packing p = Documents.standard().pack(in, 2, 5);
        assertArrayEquals(new int[] {0, 0, 0, 3, 3, 5, 5, 5, 5, 5}, p.doc());
        assertArrayEquals(new int[] {0, 1, 2, 0, 1, 0, 1, 2, 3, 4}, p.position());
    }

    @Test
    void javaEscapesAndBadOnes() {
        assertEquals("\n\t\\'\" A\u00e9\0!", Documents.unescape("\\n\\t\\\\\\'\\\"\\s\\u0041\\u00e9\\0!"));
        assertEquals("\r\n", Documents.unescape("\\015\\12"));
        assertArrayEquals(new byte[] {'<', '/', 'd', '>'}, Documents.fromEscaped("</d>").delimiter());
        for (String bad : new String[] {"\\q", "\\u12", "\\u12zz", "abc\\"}) {
            UserError e = assertThrows(UserError.class, () -> Documents.unescape(bad), bad);
            assertTrue(e.getMessage().contains("--doc-delimiter") && !e.getMessage().contains("\n"), e.getMessage());
        }
        UserError e = assertThrows(UserError.class, () -> Documents.fromEscaped(""));
        assertTrue(e.getMessage().contains("must not be empty") && e.getMessage().contains("\\n\\n"), e.getMessage());
    }
}
