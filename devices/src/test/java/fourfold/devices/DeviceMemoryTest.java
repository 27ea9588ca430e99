package fourfold.devices;

import net.openhft.chronicle.core.io.AbstractReferenceCounted;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.*;

class DeviceMemoryTest {

    @Test
    void blocksAre64ByteAlignedWhateverTheRequestedSize() {
        try (DeviceMemory mem = new DeviceMemory(0, 1 << 20)) {
            for (int bytes : new int[]{1, 3, 63, 64, 65, 1000, 4097}) {
                DeviceMemory.Block b = mem.allocate(bytes, MemoryTag.ACTIVATIONS, "a" + bytes);
                assertEquals(0, b.segment().address() % 64, "block of " + bytes + " bytes must start on a 64-byte boundary");
                assertEquals(bytes, b.segment().byteSize(), "segment must be exactly the requested size");
            }
        }
    }

    @Test
    void freedMemoryIsReusedAndCoalesced() {
        try (DeviceMemory mem = new DeviceMemory(0, 4096)) {
            DeviceMemory.Block a = mem.allocate(1024, MemoryTag.PARAMS, "a");
            DeviceMemory.Block b = mem.allocate(1024, MemoryTag.PARAMS, "b");
            DeviceMemory.Block c = mem.allocate(2048, MemoryTag.PARAMS, "c");
            assertThrows(DeviceOutOfMemoryError.class, () -> mem.allocate(64, MemoryTag.PARAMS, "full"));
            long addressA = a.segment().address();
            a.free();
            b.free();
            // a and b coalesce into one 2 KiB hole: a 2 KiB request fits only if they were merged.
            DeviceMemory.Block d = mem.allocate(2048, MemoryTag.GRADS, "d");
            assertEquals(addressA, d.segment().address(), "the coalesced hole of a+b must be reused");
            c.free();
            d.free();
            assertEquals(0, mem.inUse());
            assertEquals(0, mem.liveBlocks());
            // after everything is freed, the whole capacity is one block again
            mem.allocate(4096, MemoryTag.COMM, "all").free();
        }
    }

    @Test
    void peakAndInUseAreTrackedInTotalAndPerTag() {
        try (DeviceMemory mem = new DeviceMemory(0, 1 << 16)) {
            DeviceMemory.Block p = mem.allocate(1000, MemoryTag.PARAMS, "p"); // reserves 1024
            DeviceMemory.Block a1 = mem.allocate(4096, MemoryTag.ACTIVATIONS, "a1");
            DeviceMemory.Block a2 = mem.allocate(2048, MemoryTag.ACTIVATIONS, "a2");
            assertEquals(1024 + 4096 + 2048, mem.inUse());
            a1.free();
            a2.free();
            DeviceMemory.Block a3 = mem.allocate(1024, MemoryTag.ACTIVATIONS, "a3");
            assertEquals(1024 + 1024, mem.inUse());
            assertEquals(1024 + 4096 + 2048, mem.peak(), "peak keeps the high-water mark");
            assertEquals(6144, mem.peak(MemoryTag.ACTIVATIONS));
            assertEquals(1024, mem.inUse(MemoryTag.ACTIVATIONS));
            assertEquals(1024, mem.peak(MemoryTag.PARAMS));
            mem.resetPeak();
            assertEquals(2048, mem.peak(), "a reset peak starts from what is in use");
            p.free();
            a3.free();
        }
    }

    @Test
    void outOfMemoryNamesDeviceRequestUsageAndLargestBlocks() {
        try (DeviceMemory mem = new DeviceMemory(3, 1 << 20)) {
            mem.allocate(600 << 10, MemoryTag.PARAMS, "model.embed_tokens.weight");
            mem.allocate(200 << 10, MemoryTag.ACTIVATIONS, "layers.0.q");
            DeviceOutOfMemoryError e = assertThrows(DeviceOutOfMemoryError.class,
                    () -> mem.allocate(512 << 10, MemoryTag.GRADS, "grad of lm_head"));
            String m = e.getMessage();
            assertAll("OOM message: " + m,
                    () -> assertTrue(m.contains("device 3"), "device"),
                    () -> assertTrue(m.contains("512.00 KiB"), "requested bytes"),
                    () -> assertTrue(m.contains("800.00 KiB in use"), "in use"),
                    () -> assertTrue(m.contains("capacity 1.00 MiB"), "capacity"),
                    () -> assertTrue(m.contains("peak"), "peak"),
                    () -> assertTrue(m.indexOf("model.embed_tokens.weight") < m.indexOf("layers.0.q"), "largest live blocks first"));
            assertEquals(3, e.device());
        }
    }

    @Test
    void useAfterFreeAndDoubleFreeAreRefused() {
        try (DeviceMemory mem = new DeviceMemory(0, 1 << 16)) {
            DeviceMemory.Block b = mem.allocate(256, MemoryTag.ACTIVATIONS, "x");
            MemorySegment s = b.segment();
            s.set(ValueLayout.JAVA_FLOAT, 0, 1f);
            b.free();
            IllegalStateException e = assertThrows(IllegalStateException.class, b::segment);
            assertTrue(e.getMessage().contains("use after free"), e.getMessage());
            assertThrows(IllegalStateException.class, b::free);
        }
    }

    @Test
    void closingReleasesTheNativeStore() {
        AbstractReferenceCounted.enableReferenceTracing();
        try {
            DeviceMemory mem = new DeviceMemory(0, 1 << 20);
            DeviceMemory.Block b = mem.allocate(128, MemoryTag.PARAMS, "w");
            mem.close();
            assertTrue(b.isFreed(), "live blocks are invalidated when the device closes");
            assertThrows(IllegalStateException.class, () -> mem.allocate(64, MemoryTag.PARAMS, "late"));
            // Chronicle's reference tracing fails if any native store is still retained.
            AbstractReferenceCounted.assertReferencesReleased();
        } finally {
            AbstractReferenceCounted.disableReferenceTracing();
        }
    }

    @Test
    void sizesParseAndFormat() {
        assertEquals(512L << 20, Bytes.parse("512m"));
        assertEquals(2L << 30, Bytes.parse("2G"));
        assertEquals(1000, Bytes.parse("1000"));
        assertThrows(IllegalArgumentException.class, () -> Bytes.parse("-1m"));
        assertThrows(IllegalArgumentException.class, () -> Bytes.parse("lots"));
        assertEquals("1.50 MiB", Bytes.format(3L << 19));
    }
}
