package fourfold.devices;

import net.openhft.chronicle.bytes.BytesStore;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The memory of one simulated GPU: a fixed capacity backed by ONE Chronicle Bytes native store,
 * allocated when the device starts and released when it closes.
 *
 * <p>Blocks are 64-byte aligned (a 512-bit vector load never straddles a cache line) and handed
 * out as {@link MemorySegment} views. Freed blocks return to an address-ordered free list and are
 * coalesced with their neighbours, so memory is reused as a caching allocator reuses it; peak
 * numbers therefore include fragmentation, as they would on a GPU.
 */
public final class DeviceMemory implements AutoCloseable {
    public static final int ALIGNMENT = 64;

    private final int device;
    private final long capacity;
    private final BytesStore<?, Void> store;
    private final MemorySegment arena;
    /** Free ranges: offset -> length, address ordered, never adjacent (coalesced). */
    private final TreeMap<Long, Long> free = new TreeMap<>();
    private final Set<Block> live = Collections.newSetFromMap(new IdentityHashMap<>());
    private final EnumMap<MemoryTag, Long> inUseByTag = new EnumMap<>(MemoryTag.class);
    private final EnumMap<MemoryTag, Long> peakByTag = new EnumMap<>(MemoryTag.class);
    private long inUse;
    private long peak;
    private boolean closed;
    private volatile Listener listener;

    /** Told after every allocation and free (the trace draws memory counters from it). */
    public interface Listener {
        /** Called while this memory's lock is held: read it, do not allocate from it. */
        void changed(DeviceMemory memory);
    }

    public DeviceMemory(int device, long capacityBytes) {
        if (capacityBytes <= 0) {
            throw new IllegalArgumentException("device " + device + ": memory capacity must be positive, got " + capacityBytes);
        }
        this.device = device;
        this.capacity = alignUp(capacityBytes);
        // The lazy store does not zero the whole arena up front (1 GiB took ~2 s): like cudaMalloc,
        // allocated blocks have undefined contents, and the OS commits pages as they are touched.
        this.store = BytesStore.lazyNativeBytesStoreWithFixedCapacity(capacity + ALIGNMENT);
        long address = store.addressForRead(0);
        long aligned = alignUp(address);
        this.arena = MemorySegment.ofAddress(aligned).reinterpret(capacity);
        free.put(0L, capacity);
        for (MemoryTag t : MemoryTag.values()) {
            inUseByTag.put(t, 0L);
            peakByTag.put(t, 0L);
        }
    }

    static long alignUp(long v) {
        return (v + ALIGNMENT - 1) & -ALIGNMENT;
    }

    public int device() {
        return device;
    }

    public long capacity() {
        return capacity;
    }

    /** Allocates {@code bytes} (contents undefined, as cudaMalloc) under {@code tag}; {@code label} names it in OOM reports. */
    public synchronized Block allocate(long bytes, MemoryTag tag, String label) {
        if (closed) throw new IllegalStateException("device " + device + ": memory is closed");
        if (bytes < 0) throw new IllegalArgumentException("device " + device + ": negative allocation " + bytes + " bytes for " + label);
        long size = Math.max(ALIGNMENT, alignUp(bytes));
        Map.Entry<Long, Long> best = null;
        for (Map.Entry<Long, Long> e : free.entrySet()) { // best fit keeps fragmentation low
            if (e.getValue() >= size && (best == null || e.getValue() < best.getValue())) {
                best = e;
                if (e.getValue() == size) break;
            }
        }
        if (best == null) throw outOfMemory(bytes, tag, label);
        long offset = best.getKey();
        long rest = best.getValue() - size;
        free.remove(offset);
        if (rest > 0) free.put(offset + size, rest);
        Block block = new Block(this, offset, size, bytes, tag, label);
        live.add(block);
        inUse += size;
        peak = Math.max(peak, inUse);
        long t = inUseByTag.get(tag) + size;
        inUseByTag.put(tag, t);
        if (t > peakByTag.get(tag)) peakByTag.put(tag, t);
        notifyListener();
        return block;
    }

    synchronized void release(Block block) {
        if (!live.remove(block)) throw new IllegalStateException("device " + device + ": double free of " + block);
        inUse -= block.size;
        inUseByTag.put(block.tag, inUseByTag.get(block.tag) - block.size);
        long offset = block.offset;
        long size = block.size;
        Map.Entry<Long, Long> before = free.floorEntry(offset);
        if (before != null && before.getKey() + before.getValue() == offset) {
            offset = before.getKey();
            size += before.getValue();
            free.remove(before.getKey());
        }
        Long after = free.get(offset + size);
        if (after != null) {
            free.remove(offset + size);
            size += after;
        }
        free.put(offset, size);
        notifyListener();
    }

    private void notifyListener() {
        Listener l = listener;
        if (l != null) l.changed(this);
    }

    public void setListener(Listener listener) {
        this.listener = listener;
    }

    /**
     * True when {@code segment} lies entirely inside this device's arena: collectives use it to
     * refuse heap arrays and other devices' memory.
     */
    public boolean owns(java.lang.foreign.MemorySegment segment) {
        if (closed || !segment.isNative()) return false;
        long start = segment.address() - arena.address();
        return start >= 0 && start + segment.byteSize() <= capacity;
    }

    private DeviceOutOfMemoryError outOfMemory(long bytes, MemoryTag tag, String label) {
        List<Block> largest = new ArrayList<>(live);
        largest.sort(Comparator.comparingLong((Block b) -> b.size).reversed());
        StringBuilder top = new StringBuilder();
        for (int i = 0; i < Math.min(5, largest.size()); i++) {
            Block b = largest.get(i);
            if (i > 0) top.append(", ");
            top.append(b.label).append(" (").append(b.tag.label()).append(", ").append(Bytes.format(b.size)).append(')');
        }
        long largestFree = free.values().stream().mapToLong(Long::longValue).max().orElse(0);
        String msg = "device " + device + " out of memory: tried to allocate " + Bytes.format(bytes) + " for " + label
                + " (" + tag.label() + "); " + Bytes.format(inUse) + " in use, peak " + Bytes.format(peak)
                + ", capacity " + Bytes.format(capacity) + ", largest free block " + Bytes.format(largestFree)
                + "; largest live blocks: " + (top.isEmpty() ? "none" : top)
                + ". Raise --device-memory, use more devices (tp/pp/zero) or a smaller batch.";
        return new DeviceOutOfMemoryError(device, bytes, msg);
    }

    public synchronized long inUse() {
        return inUse;
    }

    public synchronized long peak() {
        return peak;
    }

    public synchronized long inUse(MemoryTag tag) {
        return inUseByTag.get(tag);
    }

    public synchronized long peak(MemoryTag tag) {
        return peakByTag.get(tag);
    }

    public synchronized int liveBlocks() {
        return live.size();
    }

    /** Starts a new peak-measurement window: peaks drop to what is in use now. */
    public synchronized void resetPeak() {
        peak = inUse;
        for (MemoryTag t : MemoryTag.values()) peakByTag.put(t, inUseByTag.get(t));
    }

    /** Releases the native store. Blocks still live are invalidated; their segments can no longer be obtained. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        for (Block b : new ArrayList<>(live)) b.invalidate();
        live.clear();
        store.releaseLast();
    }

    public boolean isClosed() {
        return closed;
    }

    /** One allocation. Its segment is refused once the block is freed (use after free). */
    public static final class Block implements AutoCloseable {
        private final DeviceMemory memory;
        private final long offset;
        private final long size;
        private final long requested;
        private final MemoryTag tag;
        private final String label;
        private final MemorySegment segment;
        private volatile boolean freed;

        private Block(DeviceMemory memory, long offset, long size, long requested, MemoryTag tag, String label) {
            this.memory = memory;
            this.offset = offset;
            this.size = size;
            this.requested = requested;
            this.tag = tag;
            this.label = label;
            this.segment = memory.arena.asSlice(offset, requested);
        }

        public MemorySegment segment() {
            if (freed) throw new IllegalStateException("use after free: " + label + " on device " + memory.device + " was freed");
            return segment;
        }

        public long byteSize() {
            return requested;
        }

        public long reservedBytes() {
            return size;
        }

        public MemoryTag tag() {
            return tag;
        }

        public String label() {
            return label;
        }

        public int device() {
            return memory.device;
        }

        public boolean isFreed() {
            return freed;
        }

        /** Returns the block to its device's free list. */
        public void free() {
            synchronized (memory) {
                if (freed) throw new IllegalStateException("double free: " + label + " on device " + memory.device);
                freed = true;
                if (!memory.closed) memory.release(this);
            }
        }

        private void invalidate() {
            freed = true;
        }

        @Override
        public void close() {
            if (!freed) free();
        }

        @Override
        public String toString() {
            return label + " [" + tag.label() + ", " + Bytes.format(size) + " at +" + offset + " on device " + memory.device + "]";
        }
    }
}
