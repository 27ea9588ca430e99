package fourfold.engine.kernels;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * The block sizes of {@link Gemm}'s loop nest, derived once at start from the caches of one core
 * ({@link CacheSizes}) and the micro-tile, or set by {@code -Dfourfold.gemm.kc|mc|nc}:
 * <ul>
 * <li>kc, the K block: a B micro-panel (kc, NR) takes at most half of L1d, so it stays there while
 *     the A slivers stream past it; but at least 256, because each K block ends with a pass over
 *     C, which a shorter block no longer amortizes (the AVX-512 tile's 64-column micro-panel would
 *     get only 64-96 rows of L1).
 * <li>mc, rows of the packed A block (mc, kc): half of L2, a multiple of MR.
 * <li>nc, columns of the packed B panel (kc, nc): half of the core's share of the last-level
 *     cache, a multiple of NR, at most 4096 (a VM may report the whole host's L3 as one core's).
 * </ul>
 * None depends on the number of workers, so a GEMM's result does not either. Only kc changes
 * results (where partial sums are rounded); mc and nc change the order C's tiles are visited in.
 */
record GemmBlocks(int kc, int mc, int nc, CacheSizes caches, List<String> overridden) {
    static final int MIN_KC = 256, MAX_KC = 1024, MAX_NC = 4096;

    /** The blocks for the given caches and tile, with the system properties' overrides. */
    static GemmBlocks of(CacheSizes caches, int mr, int nr) {
        return of(caches, mr, nr, System::getProperty);
    }

    /** The same, with the overrides looked up in {@code properties} (name to value, null when unset). */
    static GemmBlocks of(CacheSizes caches, int mr, int nr, UnaryOperator<String> properties) {
        List<String> overridden = new ArrayList<>();
        int kc = property(properties, "fourfold.gemm.kc", 1, overridden);
        if (kc == 0) kc = clamp(caches.l1d() / 2 / ((long) nr * Float.BYTES), MIN_KC, MAX_KC);
        long kcBytes = (long) kc * Float.BYTES;
        int mc = property(properties, "fourfold.gemm.mc", mr, overridden);
        if (mc == 0) mc = Math.max(mr, clamp(caches.l2() / 2 / kcBytes, 1, Integer.MAX_VALUE) / mr * mr);
        int nc = property(properties, "fourfold.gemm.nc", nr, overridden);
        if (nc == 0) nc = Math.max(nr, clamp(caches.l3PerCore() / 2 / kcBytes, 1, MAX_NC) / nr * nr);
        return new GemmBlocks(kc, mc, nc, caches, List.copyOf(overridden));
    }

    /** "K blocks of 256, 480-row A blocks, 2048-column B panels (L1d ..., L2 ..., L3 ... per core: read from ...)". */
    String describe() {
        String set = overridden.isEmpty() ? "" : "; " + String.join(", ", overridden) + " set by -Dfourfold.gemm.*";
        return "K blocks of " + kc + ", " + mc + "-row A blocks, " + nc + "-column B panels (" + caches.describe() + set + ")";
    }

    /** A block size from a system property (a positive multiple of {@code multiple}), else 0. */
    private static int property(UnaryOperator<String> properties, String property, int multiple, List<String> overridden) {
        String v = properties.apply(property);
        if (v == null) return 0;
        int n;
        try {
            n = Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n <= 0 || n % multiple != 0) {
            throw KernelSupport.badOption(property, "a positive " + (multiple == 1 ? "integer" : "multiple of " + multiple), v);
        }
        overridden.add(property.substring(property.lastIndexOf('.') + 1));
        return n;
    }

    private static int clamp(long x, int lo, int hi) {
        return (int) Math.max(lo, Math.min(hi, x));
    }
}
