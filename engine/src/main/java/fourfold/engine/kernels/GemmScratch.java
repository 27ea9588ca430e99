package fourfold.engine.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Per-thread packing buffers of {@link Gemm}: the packed A block, the packed B panel and one
 * micro-tile for edge tiles. Grow-only, 64-byte aligned, off-heap; a thread allocates them on its
 * first GEMM (or the first that needs more) and reuses them after, so the hot path allocates nothing.
 *
 * <p>They live outside the device arena on purpose: they are a fixed per-worker workspace (as
 * cuBLAS's workspace), not tensors, and counting them would make every device's peak memory
 * depend on which GEMM shapes ran first.
 */
final class GemmScratch {
    private static final ThreadLocal<GemmScratch> LOCAL = ThreadLocal.withInitial(GemmScratch::new);

    private MemorySegment a = MemorySegment.NULL;
    private MemorySegment b = MemorySegment.NULL;
    private MemorySegment tile = MemorySegment.NULL;
    private MemorySegment shared = MemorySegment.NULL;

    private GemmScratch() {}

    static GemmScratch get() {
        return LOCAL.get();
    }

    MemorySegment a(long bytes) {
        if (a.byteSize() < bytes) a = allocate(bytes);
        return a;
    }

    MemorySegment b(long bytes) {
        if (b.byteSize() < bytes) b = allocate(bytes);
        return b;
    }

    /** An operand packed once for all workers of a call: owned by the calling thread, read by its helpers. */
    MemorySegment shared(long bytes) {
        if (shared.byteSize() < bytes) shared = allocate(bytes);
        return shared;
    }

    /** One (MR, NR) micro-tile. */
    MemorySegment tile() {
        if (tile.byteSize() == 0) tile = allocate((long) GemmKernels.MR * GemmKernels.NR * Float.BYTES);
        return tile;
    }

    private static MemorySegment allocate(long bytes) {
        // An automatic arena: freed by the GC once the thread (and so this scratch) is gone.
        return Arena.ofAuto().allocate(bytes, 64);
    }
}
