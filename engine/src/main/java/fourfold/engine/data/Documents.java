package fourfold.engine.data;

import fourfold.engine.UserError;

import java.nio.charset.StandardCharsets;

/**
 * Documents packed in a sequence, as Llama 3 and WLB-LLM train: scanning a sequence from its
 * start, a document ends right after each complete occurrence of the delimiter (occurrences do
 * not overlap). A token then attends only to earlier tokens of its own document, and its RoPE
 * position counts from 0 at its document's first token. Every target is still counted.
 */
public final class Documents {
    /** Llama 3's and this project's default: a blank line. */
    public static final String DEFAULT_DELIMITER = "\n\n";

    private final byte[] delimiter;

    public Documents(byte[] delimiter) {
        if (delimiter.length == 0) {
            throw new UserError("--doc-delimiter must not be empty; use e.g. --doc-delimiter '\\n\\n' (a blank line, the default)");
        }
        this.delimiter = delimiter.clone();
    }

    /** From the command line's text with Java-style escapes (\n, \t, \\ and u-escapes, ...), as UTF-8 bytes. */
    public static Documents fromEscaped(String text) {
        return new Documents(unescape(text).getBytes(StandardCharsets.UTF_8));
    }

    public static Documents standard() {
        return fromEscaped("\\n\\n");
    }

    public byte[] delimiter() {
        return delimiter.clone();
    }

    /** The delimiter as text (UTF-8). */
    public String text() {
        return new String(delimiter, StandardCharsets.UTF_8);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Documents d && java.util.Arrays.equals(delimiter, d.delimiter);
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(delimiter);
    }

    /** The delimiter with newlines and tabs written as escapes, for messages. */
    @Override
    public String toString() {
        return text().replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r");
    }

    /** Java's string escapes: \b \t \n \f \r \s \" \' \\, octal \0-\377 and u-escapes (backslash, u, four hex digits). A bad escape is a one-line user error. */
    public static String unescape(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\') {
                out.append(c);
                continue;
            }
            if (i + 1 == s.length()) throw badEscape(s, "a lone backslash at the end");
            char e = s.charAt(++i);
            switch (e) {
                case 'b' -> out.append('\b');
                case 't' -> out.append('\t');
                case 'n' -> out.append('\n');
                case 'f' -> out.append('\f');
                case 'r' -> out.append('\r');
                case 's' -> out.append(' ');
                case '"', '\'', '\\' -> out.append(e);
                case 'u' -> {
                    while (i + 1 < s.length() && s.charAt(i + 1) == 'u') i++; // Java allows several u after the backslash
                    if (i + 4 >= s.length()) throw badEscape(s, "\\u needs four hex digits");
                    String hex = s.substring(i + 1, i + 5);
                    try {
                        out.append((char) Integer.parseInt(hex, 16));
                    } catch (NumberFormatException ex) {
                        throw badEscape(s, "\\u" + hex + " is not four hex digits");
                    }
                    i += 4;
                }
                default -> {
                    if (e >= '0' && e <= '7') { // octal: up to three digits, at most \377
                        int value = e - '0', digits = 1, max = e <= '3' ? 3 : 2;
                        while (digits < max && i + 1 < s.length() && s.charAt(i + 1) >= '0' && s.charAt(i + 1) <= '7') {
                            value = value * 8 + (s.charAt(++i) - '0');
                            digits++;
                        }
                        out.append((char) value);
                    } else {
                        throw badEscape(s, "\\" + e + " is not a Java escape");
                    }
                }
            }
        }
        return out.toString();
    }

    private static UserError badEscape(String s, String why) {
        return new UserError("--doc-delimiter '" + s + "': " + why + "; use Java escapes such as \\n, \\t, \\\\ or \\u000A");
    }

    /**
     * Cuts each of the B rows of {@code inputs} (B, T) into documents: {@code doc[b*T + t]} is the
     * document's first token index in the flattened batch (b*T + start), so ids are unique over
     * the batch and increase along it; {@code position[b*T + t]} is t minus the document's start.
     */
    public Packing pack(int[] inputs, int B, int T) {
        int[] doc = new int[B * T], position = new int[B * T];
        for (int b = 0; b < B; b++) {
            int start = 0;
            for (int t = 0; t < T; t++) {
                int i = b * T + t;
                doc[i] = b * T + start;
                position[i] = t - start;
                // an occurrence inside the current document cannot overlap the one that ended the last
                if (matchesAt(inputs, b * T, t, start)) start = t + 1; // the document ends right after it
            }
        }
        return new Packing(doc, position);
    }

    /** Whether the delimiter ends at token t of the row at {@code rowOff}, entirely inside the current document [start, t]. */
    private boolean matchesAt(int[] inputs, int rowOff, int t, int start) {
        int n = delimiter.length;
        if (t - n + 1 < start) return false;
        for (int k = 0; k < n; k++) {
            if (inputs[rowOff + t - n + 1 + k] != (delimiter[k] & 0xFF)) return false;
        }
        return true;
    }

    /** Per token of a (B, T) batch: the document id (its first token's flat index) and the position in it. */
    public record Packing(int[] doc, int[] position) {}

    /** The single-document view: each row one document (id b*T), positions 0..T-1. */
    public static Packing rows(int B, int T) {
        int[] doc = new int[B * T], position = new int[B * T];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                doc[b * T + t] = b * T;
                position[b * T + t] = t;
            }
        }
        return new Packing(doc, position);
    }
}
