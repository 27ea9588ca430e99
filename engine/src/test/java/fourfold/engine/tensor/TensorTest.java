package fourfold.engine.tensor;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class TensorTest {
    Device gpu0, gpu1;

    @BeforeEach
    void devices() {
        gpu0 = new Device(0, 1 << 20, 1);
        gpu1 = new Device(1, 1 << 20, 1);
    }

    @AfterEach
    void close() {
        gpu0.close();
        gpu1.close();
    }

    static float[] iota(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = i;
        return v;
    }

    @Test
    void sliceAlongEachDimensionCopiesTheExpectedElements() {
        try (Tensor t = Tensor.of(gpu0, MemoryTag.PARAMS, "w", iota(2 * 3 * 4), 2, 3, 4)) {
            try (Tensor s = t.slice(1, 1, 2, MemoryTag.PARAMS, "w[:,1:3]")) {
                assertArrayEquals(new int[]{2, 2, 4}, s.shape());
                // element (a, b, c) of the slice is element (a, b + 1, c) of t = a*12 + (b+1)*4 + c
                float[] expected = {4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23};
                assertArrayEquals(expected, s.toArray());
            }
            try (Tensor s = t.slice(-1, 3, 1, MemoryTag.PARAMS, "w[..., 3]")) {
                assertArrayEquals(new float[]{3, 7, 11, 15, 19, 23}, s.toArray());
            }
            try (Tensor s = t.slice(0, 1, 1, MemoryTag.PARAMS, "w[1]")) {
                assertEquals(12f, s.get(0));
            }
        }
    }

    @Test
    void viewsShareStorageAndNeverFree() {
        try (Tensor t = Tensor.of(gpu0, MemoryTag.ACTIVATIONS, "x", iota(12), 3, 4)) {
            Tensor rows = t.rowsView(1, 2);
            rows.set(0, -1f);
            assertEquals(-1f, t.get(4), "a rows view writes through to its base");
            Tensor flat = t.view(12);
            flat.close(); // a view does not own its block
            assertEquals(-1f, t.get(4));
            assertEquals(2, rows.rows());
            assertEquals(4, rows.cols());
            assertThrows(IllegalArgumentException.class, () -> t.view(5, 2));
            assertThrows(IllegalArgumentException.class, () -> t.rowsView(2, 2));
        }
    }

    @Test
    void useAfterCloseIsRefused() {
        Tensor t = Tensor.zeros(gpu0, MemoryTag.ACTIVATIONS, "x", 4);
        Tensor v = t.view(2, 2);
        t.close();
        assertThrows(IllegalStateException.class, () -> v.get(0));
        assertEquals(0, gpu0.memory().inUse());
    }

    @Test
    void tensorsOnTwoDevicesAreRefusedWithBothNames() {
        try (Tensor a = Tensor.zeros(gpu0, MemoryTag.ACTIVATIONS, "a", 4); Tensor b = Tensor.zeros(gpu1, MemoryTag.ACTIVATIONS, "b", 4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.copyFrom(b));
            assertTrue(e.getMessage().contains("GPU 0") && e.getMessage().contains("GPU 1"), e.getMessage());
        }
    }

    @Test
    void nonPositiveShapesAndWrongCountsAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(gpu0, MemoryTag.PARAMS, "w", 3, 0));
        assertTrue(e.getMessage().contains("(3, 0)"), e.getMessage());
        try (Tensor t = Tensor.zeros(gpu0, MemoryTag.PARAMS, "w", 3)) {
            assertThrows(IllegalArgumentException.class, () -> t.copyFrom(new float[4]));
            IllegalArgumentException s = assertThrows(IllegalArgumentException.class, () -> t.requireShape("op", 4));
            assertTrue(s.getMessage().contains("op") && s.getMessage().contains("(3)") && s.getMessage().contains("(4)"), s.getMessage());
        }
    }

    @Test
    void memoryIsAccountedUnderTheTensorsTag() {
        try (Tensor t = Tensor.zeros(gpu0, MemoryTag.OPTIMIZER, "m", 100)) {
            assertEquals(448, gpu0.memory().inUse(MemoryTag.OPTIMIZER), "400 bytes rounded up to 64-byte alignment");
        }
        assertEquals(0, gpu0.memory().inUse(MemoryTag.OPTIMIZER));
    }
}
