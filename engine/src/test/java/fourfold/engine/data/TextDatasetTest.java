package fourfold.engine.data;

import fourfold.engine.UserError;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TextDatasetTest {
    @TempDir
    Path dir;

    @Test
    void embeddedCorpusSplitsNinetyTen() {
        TextDataset d = TextDataset.embedded();
        assertEquals(1_115_394, d.length(), "Tiny Shakespeare is 1,115,394 bytes");
        assertEquals(1_003_854, d.train().length(), "train = floor(0.9 n)");
        assertEquals(111_540, d.validation().length(), "validation = the rest");
        String start = new String(ByteTokenizer.toBytes(firstTokens(d.train(), 14)), StandardCharsets.US_ASCII);
        assertEquals("First Citizen:", start, "train starts at byte 0");
    }

    @Test
    void splitBoundaryIsFloorOfNineTenthsAndTheSplitsAreContiguous() {
        for (int n : new int[] {1, 2, 9, 10, 11, 19, 20, 1001, 12345}) {
            byte[] bytes = new byte[n];
            for (int i = 0; i < n; i++) bytes[i] = (byte) (i * 7);
            TextDataset d = TextDataset.of("mem", bytes);
            int t = (int) Math.floor(n * 0.9 + 1e-9);
            assertEquals(t, d.train().length(), "train length for n=" + n);
            assertEquals(n - t, d.validation().length(), "validation length for n=" + n);
            if (t > 0) assertEquals(bytes[t - 1] & 0xFF, d.train().token(t - 1), "last train byte, n=" + n);
            assertEquals(bytes[t] & 0xFF, d.validation().token(0), "validation starts right after train, n=" + n);
        }
    }

    @Test
    void loadsAFile() throws IOException {
        Path f = dir.resolve("text.txt");
        Files.writeString(f, "hello world, hello data");
        TextDataset d = TextDataset.load(f);
        assertEquals(23, d.length());
        assertEquals('h', d.all().token(0));
        assertEquals(20, d.train().length(), "floor(23 * 9 / 10) = 20");
    }

    @Test
    void missingDirectoryAndEmptyFilesAreUserErrors() throws IOException {
        Path missing = dir.resolve("nope.txt");
        UserError e1 = assertThrows(UserError.class, () -> TextDataset.load(missing));
        assertTrue(e1.getMessage().contains(missing.toString()) && e1.getMessage().contains("does not exist"), e1.getMessage());

        UserError e2 = assertThrows(UserError.class, () -> TextDataset.load(dir));
        assertTrue(e2.getMessage().contains("is a directory"), e2.getMessage());

        Path empty = Files.createFile(dir.resolve("empty.txt"));
        UserError e3 = assertThrows(UserError.class, () -> TextDataset.load(empty));
        assertTrue(e3.getMessage().contains(empty.toString()) && e3.getMessage().contains("empty"), e3.getMessage());
    }

    @Test
    void dataShorterThanOneWindowIsAUserError() {
        TokenSpan span = TokenSpan.of("short.txt", new byte[8]);
        span.requireWindow(7); // 8 bytes = exactly one window of T+1
        UserError e = assertThrows(UserError.class, () -> span.requireWindow(8));
        assertTrue(e.getMessage().contains("short.txt") && e.getMessage().contains("8 bytes") && e.getMessage().contains("9 bytes"),
                e.getMessage());
        assertThrows(UserError.class, () -> BatchSampler.sequential(span, 1, 8), "the sampler checks too");
        assertThrows(UserError.class, () -> new EvalWindows(span, 8, 1), "eval checks too");
    }

    private static int[] firstTokens(TokenSpan s, int n) {
        int[] out = new int[n];
        s.copyTokens(0, n, out, 0);
        return out;
    }
}
