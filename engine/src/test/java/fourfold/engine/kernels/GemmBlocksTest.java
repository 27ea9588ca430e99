package fourfold.engine.kernels;

import fourfold.engine.UserError;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Cache sizes read from a fake sysfs directory, and the GEMM blocks derived from them. */
class GemmBlocksTest {
    @TempDir
    Path cache;

    /** One {@code indexN} directory; a null value leaves that file out. */
    private void index(int n, String level, String type, String size, String sharedCpus) throws IOException {
        Path dir = Files.createDirectories(cache.resolve("index" + n));
        if (level != null) Files.writeString(dir.resolve("level"), level + "\n");
        if (type != null) Files.writeString(dir.resolve("type"), type + "\n");
        if (size != null) Files.writeString(dir.resolve("size"), size + "\n");
        if (sharedCpus != null) Files.writeString(dir.resolve("shared_cpu_list"), sharedCpus + "\n");
    }

    @Test
    void readsEveryLevelAndSharesTheLastAmongItsCpus() throws IOException {
        index(0, "1", "Data", "48K", "0");
        index(1, "1", "Instruction", "32K", "0");
        index(2, "2", "Unified", "2048K", "0");
        index(3, "3", "Unified", "32M", "0-3,8-11");
        CacheSizes c = CacheSizes.read(cache);
        assertEquals(48 << 10, c.l1d(), "L1d from index0, the instruction cache ignored");
        assertEquals(2 << 20, c.l2(), "L2 from '2048K'");
        assertEquals(4 << 20, c.l3PerCore(), "32 MiB shared by 8 CPUs (0-3,8-11)");
        assertTrue(c.source().startsWith("read from ") && !c.source().contains("default"), c.source());
    }

    @Test
    void takesDefaultsForWhatIsMissingOrUnreadable() throws IOException {
        CacheSizes none = CacheSizes.read(cache.resolve("absent"));
        assertEquals(new CacheSizes(CacheSizes.DEFAULT_L1D, CacheSizes.DEFAULT_L2, CacheSizes.DEFAULT_L3_PER_CORE, none.source()), none);
        assertTrue(none.source().startsWith("defaults"), none.source());

        index(0, "1", "Data", "64K", null);   // no shared_cpu_list: fine for L1
        index(1, "2", "Unified", "lots", "0"); // an unreadable size: L2 defaults
        index(2, "3", null, "16M", "0-1");     // no type: skipped, L3 defaults
        CacheSizes some = CacheSizes.read(cache);
        assertEquals(64 << 10, some.l1d());
        assertEquals(CacheSizes.DEFAULT_L2, some.l2());
        assertEquals(CacheSizes.DEFAULT_L3_PER_CORE, some.l3PerCore());
        assertTrue(some.source().endsWith("defaults for L2, L3"), some.source());
    }

    @Test
    void parsesSizesAndCpuLists() {
        assertEquals(1536, CacheSizes.bytes("1536"));
        assertEquals(1L << 30, CacheSizes.bytes("1G"));
        assertEquals(-1, CacheSizes.bytes("-4K"));
        assertEquals(-1, CacheSizes.bytes(""));
        assertEquals(1, CacheSizes.cpuCount("7"));
        assertEquals(5, CacheSizes.cpuCount("0-2, 5,9"));
        assertEquals(1, CacheSizes.cpuCount("0-x"));
    }

    @Test
    void blocksFollowTheCachesAndTheTile() {
        CacheSizes xeon = new CacheSizes(48 << 10, 2 << 20, 8 << 20, "test");
        // 6 x 2 tile with 8 lanes: NR = 16, a K row of the B micro-panel is 64 bytes
        GemmBlocks b = GemmBlocks.of(xeon, 6, 16, name -> null);
        assertEquals(384, b.kc(), "half of L1d over 64 bytes per k");
        assertEquals((2 << 20) / 2 / (384 * 4) / 6 * 6, b.mc(), "half of L2 over a 384-float A row, whole slivers");
        assertEquals(2720, b.nc(), "half of 8 MiB over 1536 bytes per column, whole 16-column slivers");
        // 4 x 4 tile with 16 lanes: NR = 64 would give 96 rows of L1; K blocks stay at least MIN_KC
        GemmBlocks wide = GemmBlocks.of(xeon, 4, 64, name -> null);
        assertEquals(GemmBlocks.MIN_KC, wide.kc());
        assertEquals(0, wide.mc() % 4);
        assertEquals(0, wide.nc() % 64);
        // a VM reporting the host's whole L3 as one core's: NC stays bounded
        GemmBlocks huge = GemmBlocks.of(new CacheSizes(32 << 10, 512 << 10, 1L << 32, "test"), 6, 16, name -> null);
        assertEquals(GemmBlocks.MAX_NC, huge.nc());
        assertTrue(b.describe().contains("K blocks of 384") && b.describe().contains("2720-column B panels"), b.describe());
    }

    @Test
    void overridesWinAndBadOnesAreOneLineUserErrors() {
        CacheSizes c = new CacheSizes(32 << 10, 512 << 10, 2 << 20, "test");
        GemmBlocks b = GemmBlocks.of(c, 6, 16, Map.of("fourfold.gemm.kc", "100", "fourfold.gemm.nc", "32")::get);
        assertEquals(100, b.kc());
        assertEquals((512 << 10) / 2 / 400 / 6 * 6, b.mc(), "mc derived from the overridden kc");
        assertEquals(32, b.nc());
        assertTrue(b.describe().contains("kc, nc set by -Dfourfold.gemm.*"), b.describe());
        UserError e = assertThrows(UserError.class, () -> GemmBlocks.of(c, 6, 16, Map.of("fourfold.gemm.nc", "40")::get));
        assertEquals("-Dfourfold.gemm.nc must be a positive multiple of 16, got '40'; fix it in FOURFOLD_JAVA_OPTS or the JVM options",
                e.getMessage());
        assertThrows(UserError.class, () -> GemmBlocks.of(c, 6, 16, Map.of("fourfold.gemm.mc", "0")::get));
    }
}
