package fourfold.devices;

import java.util.Locale;

/** Human-readable byte counts (KiB, MiB, GiB) and parsing of sizes such as "512m". */
public final class Bytes {
    private Bytes() {}

    public static String format(long bytes) {
        if (bytes < 1024) return bytes + " B";
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.2f %s", v, units[u]);
    }

    /** Parses "1024", "64k", "512m", "2g" (binary multiples). */
    public static long parse(String text) {
        String s = text.trim().toLowerCase(Locale.ROOT);
        if (s.isEmpty()) throw new IllegalArgumentException("empty size; expected e.g. 512m or 2g");
        long mult = 1;
        char last = s.charAt(s.length() - 1);
        if (last == 'b') {
            s = s.substring(0, s.length() - 1);
            last = s.isEmpty() ? ' ' : s.charAt(s.length() - 1);
        }
        switch (last) {
            case 'k' -> mult = 1L << 10;
            case 'm' -> mult = 1L << 20;
            case 'g' -> mult = 1L << 30;
            case 't' -> mult = 1L << 40;
            default -> mult = 1;
        }
        if (mult != 1) s = s.substring(0, s.length() - 1);
        try {
            long v = Long.parseLong(s);
            if (v <= 0) throw new NumberFormatException();
            return Math.multiplyExact(v, mult);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("invalid size '" + text + "'; expected a positive number with an optional k, m or g suffix, e.g. 512m");
        }
    }
}
