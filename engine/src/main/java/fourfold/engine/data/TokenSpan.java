package fourfold.engine.data;

import fourfold.engine.UserError;

/**
 * A read-only run of byte tokens: a whole data file, or its train or validation split. Shares
 * the dataset's byte array (no copy); token i is {@code data[offset + i] & 0xFF}.
 */
public final class TokenSpan {
    private final String name;
    private final byte[] data;
    private final int offset;
    private final int length;

    TokenSpan(String name, byte[] data, int offset, int length) {
        if (offset < 0 || length < 0 || offset + length > data.length) {
            throw new IllegalArgumentException("TokenSpan " + name + ": range [" + offset + ", " + (offset + length)
                    + ") outside data of " + data.length + " bytes");
        }
        this.name = name;
        this.data = data;
        this.offset = offset;
        this.length = length;
    }

    /** A span over a copy-free view of {@code bytes} (for tests and in-memory text). */
    public static TokenSpan of(String name, byte[] bytes) {
        return new TokenSpan(name, bytes, 0, bytes.length);
    }

    /** Where the tokens come from, for messages ("train split of tinyshakespeare.txt"). */
    public String name() {
        return name;
    }

    public int length() {
        return length;
    }

    /** Token i (0 <= i < length) as an id 0..255. */
    public int token(int i) {
        if (i < 0 || i >= length) throw new IndexOutOfBoundsException(name + ": token " + i + " of " + length);
        return data[offset + i] & 0xFF;
    }

    /** Copies tokens [from, from+n) into {@code dst[at..at+n)} as ids. */
    public void copyTokens(int from, int n, int[] dst, int at) {
        if (from < 0 || n < 0 || from + n > length) {
            throw new IndexOutOfBoundsException(name + ": tokens [" + from + ", " + (from + n) + ") of " + length);
        }
        for (int i = 0; i < n; i++) dst[at + i] = data[offset + from + i] & 0xFF;
    }

    /**
     * Number of non-overlapping windows of T+1 bytes: window i = bytes [i*T, i*T+T+1), whose
     * first T bytes are inputs and last T bytes targets (neighbours share one byte). That is
     * i = 0 .. floor((length-1)/T)-1, so floor((length-1)/T) windows (0 for an empty span).
     */
    public int windowCount(int T) {
        requirePositiveT(T);
        return length == 0 ? 0 : (length - 1) / T;
    }

    /** Refuses a span too short for one window of T+1 bytes, with a line the CLI can print. */
    public void requireWindow(int T) {
        requirePositiveT(T);
        if (length < T + 1) {
            throw new UserError(name + " has " + length + " bytes, fewer than one window of " + (T + 1)
                    + " bytes (sequence length " + T + " + 1); use more data or a shorter --seq");
        }
    }

    private void requirePositiveT(int T) {
        if (T <= 0) throw new IllegalArgumentException(name + ": sequence length must be positive, got " + T);
    }

    @Override
    public String toString() {
        return name + " (" + length + " bytes)";
    }
}
