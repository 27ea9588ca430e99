package fourfold.engine.kernels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The data caches one core sees, as Linux reports them under
 * {@code /sys/devices/system/cpu/cpu0/cache/index*} ({@code level}, {@code type}, {@code size},
 * {@code shared_cpu_list}), for {@link GemmBlocks}. The last level is divided by the CPUs that
 * share it: a core's share is what its B panel may take. A level the directory does not describe
 * (no such directory, as in some containers and VMs, or a file missing or unreadable) takes a safe
 * default, the smallest of the machines this project has run on; {@link #source()} says which did.
 *
 * @param l1d       level 1 data cache, bytes
 * @param l2        level 2 cache, bytes
 * @param l3PerCore last-level cache divided by the CPUs sharing it, bytes
 * @param source    where the figures came from, for {@code fourfold --version}
 */
record CacheSizes(long l1d, long l2, long l3PerCore, String source) {
    static final Path SYSFS = Path.of("/sys/devices/system/cpu/cpu0/cache");
    static final long DEFAULT_L1D = 32 << 10, DEFAULT_L2 = 512 << 10, DEFAULT_L3_PER_CORE = 2 << 20;

    /** This machine's caches (read once, at class load of {@link GemmBlocks}). */
    static CacheSizes machine() {
        return read(SYSFS);
    }

    /** The caches described under {@code dir} (a {@code cpuN/cache} directory), defaults for what it lacks. */
    static CacheSizes read(Path dir) {
        long l1d = -1, l2 = -1, l3 = -1;
        for (Path index : indexes(dir)) {
            String level = text(index.resolve("level")), type = text(index.resolve("type"));
            long size = bytes(text(index.resolve("size")));
            if (level == null || type == null || size <= 0 || type.equals("Instruction")) continue;
            switch (level) {
                case "1" -> l1d = size;
                case "2" -> l2 = size;
                case "3" -> l3 = size / Math.max(1, cpuCount(text(index.resolve("shared_cpu_list"))));
                default -> { } // a level 4 (eDRAM) is not worth a block of its own
            }
        }
        List<String> defaulted = new ArrayList<>();
        if (l1d <= 0) defaulted.add("L1d");
        if (l2 <= 0) defaulted.add("L2");
        if (l3 <= 0) defaulted.add("L3");
        String source = defaulted.isEmpty() ? "read from " + dir
                : defaulted.size() == 3 ? "defaults, " + dir + " not readable"
                : "read from " + dir + ", defaults for " + String.join(", ", defaulted);
        return new CacheSizes(l1d > 0 ? l1d : DEFAULT_L1D, l2 > 0 ? l2 : DEFAULT_L2, l3 > 0 ? l3 : DEFAULT_L3_PER_CORE, source);
    }

    /** "L1d 48 KiB, L2 2 MiB, L3 16 MiB per core (read from ...)". */
    String describe() {
        return "L1d " + human(l1d) + ", L2 " + human(l2) + ", L3 " + human(l3PerCore) + " per core: " + source;
    }

    private static List<Path> indexes(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("index")).sorted().toList();
        } catch (IOException | SecurityException e) {
            return List.of();
        }
    }

    /** A file's trimmed content, or null when it is missing or unreadable. */
    private static String text(Path file) {
        try {
            return Files.readString(file).trim();
        } catch (IOException | SecurityException e) {
            return null;
        }
    }

    /** "48K", "2048K", "32M", "1G" or plain bytes; -1 for anything else. */
    static long bytes(String size) {
        if (size == null || size.isEmpty()) return -1;
        char unit = Character.toUpperCase(size.charAt(size.length() - 1));
        int shift = switch (unit) {
            case 'K' -> 10;
            case 'M' -> 20;
            case 'G' -> 30;
            default -> 0;
        };
        String digits = shift == 0 ? size : size.substring(0, size.length() - 1);
        try {
            long n = Long.parseLong(digits.trim());
            return n > 0 ? n << shift : -1;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** CPUs in a list such as "0-3,8,10-11"; 1 when it cannot be read. */
    static int cpuCount(String list) {
        if (list == null || list.isEmpty()) return 1;
        int n = 0;
        try {
            for (String part : list.split(",")) {
                String[] range = part.trim().split("-");
                n += range.length == 1 ? 1 : Integer.parseInt(range[1].trim()) - Integer.parseInt(range[0].trim()) + 1;
            }
        } catch (NumberFormatException e) {
            return 1;
        }
        return Math.max(1, n);
    }

    private static String human(long bytes) {
        if (bytes >= 1 << 20 && bytes % (1 << 20) == 0) return (bytes >> 20) + " MiB";
        if (bytes >= 1 << 10) return (bytes >> 10) + " KiB";
        return bytes + " B";
    }
}
