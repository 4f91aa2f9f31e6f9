package dev.tiller.kernels.cuda.emulator;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The emulated GPU's memory: every {@code cuMemAlloc} is a block of native host memory, so a device pointer is a real
 * address and the engine's pointer arithmetic works unchanged. Unlike plain host memory, every access made by an
 * emulated kernel or copy is checked against the block the pointer falls in: reading past an allocation is an
 * {@link IllegalAddressException} (the emulator's {@code CUDA_ERROR_ILLEGAL_ADDRESS}), not silent garbage.
 *
 * <p>New blocks are filled with 0xFF bytes (a NaN in every float lane), as a real {@code cuMemAlloc} promises nothing
 * about their contents: code that reads memory nothing wrote shows NaNs instead of passing by luck on zeros.
 */
final class DeviceMemory {
    /** One allocation: its arena (closed by {@code cuMemFree}) and its segment. */
    private record Block(Arena arena, MemorySegment segment, long serial) {}

    private final AtomicLong allocations = new AtomicLong();

    static final class IllegalAddressException extends RuntimeException {
        IllegalAddressException(String message) {
            super(message);
        }
    }

    static final class OutOfMemoryException extends RuntimeException {
        OutOfMemoryException(String message) {
            super(message);
        }
    }

    private final ConcurrentSkipListMap<Long, Block> blocks = new ConcurrentSkipListMap<>();
    private final AtomicLong used = new AtomicLong();
    private final AtomicLong peak = new AtomicLong();
    private volatile long capacity;

    DeviceMemory(long capacity) {
        this.capacity = capacity;
    }

    long capacity() {
        return capacity;
    }

    void capacity(long bytes) {
        capacity = bytes;
    }

    long used() {
        return used.get();
    }

    long peak() {
        return peak.get();
    }

    void resetPeak() {
        peak.set(used.get());
    }

    long alloc(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("cuMemAlloc of " + bytes + " bytes");
        long now = used.addAndGet(bytes);
        if (now > capacity) {
            used.addAndGet(-bytes);
            throw new OutOfMemoryException("cuMemAlloc of " + bytes + " bytes: " + used.get() + " of " + capacity + " bytes in use");
        }
        peak.accumulateAndGet(now, Math::max);
        Arena arena = Arena.ofShared();
        MemorySegment s = arena.allocate(bytes, 256); // cudaMalloc's alignment
        s.fill((byte) 0xFF);
        blocks.put(s.address(), new Block(arena, s, allocations.incrementAndGet()));
        return s.address();
    }

    void free(long ptr) {
        Block b = blocks.remove(ptr);
        if (b == null) throw new IllegalAddressException("cuMemFree of 0x" + Long.toHexString(ptr) + ", which is not the start of an allocation");
        used.addAndGet(-b.segment().byteSize());
        b.arena().close();
    }

    /** The memory from {@code ptr} to the end of its allocation. */
    MemorySegment from(long ptr) {
        Map.Entry<Long, Block> e = blocks.floorEntry(ptr);
        if (e == null || ptr >= e.getKey() + e.getValue().segment().byteSize()) {
            throw new IllegalAddressException("device address 0x" + Long.toHexString(ptr) + " is in no allocation");
        }
        return e.getValue().segment().asSlice(ptr - e.getKey());
    }

    /** Exactly {@code bytes} bytes at {@code ptr}, which must lie inside one allocation. */
    MemorySegment range(long ptr, long bytes) {
        MemorySegment s = from(ptr);
        if (bytes > s.byteSize()) {
            throw new IllegalAddressException(bytes + " bytes at device address 0x" + Long.toHexString(ptr) + " run " + (bytes - s.byteSize())
                    + " bytes past the end of its allocation");
        }
        return s.asSlice(0, bytes);
    }

    /**
     * An address as "m&lt;N&gt;+offset" (the N-th allocation since start), or the number when it is in none: the same in
     * every run of the same work, where the host addresses behind the emulated device differ (for the trace).
     */
    String describe(long ptr) {
        Map.Entry<Long, Block> e = blocks.floorEntry(ptr);
        if (e == null || ptr >= e.getKey() + e.getValue().segment().byteSize()) return Long.toString(ptr);
        return "m" + e.getValue().serial() + "+" + (ptr - e.getKey());
    }

    /** A device pointer argument of a kernel, or null for the null pointer (an optional argument). */
    MemorySegment fromOrNull(long ptr) {
        return ptr == 0 ? null : from(ptr);
    }
}
