package dev.tiller.bench;

import dev.tiller.kernels.Parallel;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;

/** Streams a memory segment with vector loads on the kernel worker pool: the read bandwidth the weights see. */
final class MemBandwidth {
    private static final VectorSpecies<Long> S = LongVector.SPECIES_PREFERRED;

    static long sum(MemorySegment seg, int threads) {
        long bytes = seg.byteSize();
        int chunkBytes = 1 << 20;
        int chunks = (int) (bytes / chunkBytes);
        AtomicLong total = new AtomicLong();
        Parallel.forRange(chunks, 1, (from, to) -> total.addAndGet(sumRange(seg, (long) from * chunkBytes, (long) to * chunkBytes)));
        return total.get();
    }

    static long sumRange(MemorySegment seg, long from, long to) {
        int step = S.vectorByteSize();
        LongVector a0 = LongVector.zero(S), a1 = LongVector.zero(S), a2 = LongVector.zero(S), a3 = LongVector.zero(S);
        for (long o = from; o + 4L * step <= to; o += 4L * step) {
            a0 = a0.add(LongVector.fromMemorySegment(S, seg, o, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(LongVector.fromMemorySegment(S, seg, o + step, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(LongVector.fromMemorySegment(S, seg, o + 2L * step, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(LongVector.fromMemorySegment(S, seg, o + 3L * step, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }

    private MemBandwidth() {}
}
