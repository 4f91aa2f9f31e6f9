package dev.tiller.kernels;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ParallelTest {
    private final int savedThreads = Parallel.threads();

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(savedThreads);
    }

    @Test
    void everyIndexRunsExactlyOnce() {
        for (int threads : new int[]{1, 2, 3, 5}) {
            Parallel.setThreads(threads);
            for (int n : new int[]{1, 2, 7, 64, 1000}) {
                for (int min : new int[]{1, 3, 100}) {
                    AtomicIntegerArray hits = new AtomicIntegerArray(n);
                    for (int rep = 0; rep < 20; rep++) {
                        Parallel.forRange(n, min, (from, to) -> {
                            for (int i = from; i < to; i++) hits.incrementAndGet(i);
                        });
                    }
                    for (int i = 0; i < n; i++) assertEquals(20, hits.get(i), "threads " + threads + " n " + n + " index " + i);
                }
            }
        }
    }

    @Test
    void nestedAndConcurrentCallsComplete() throws Exception {
        Parallel.setThreads(2);
        AtomicIntegerArray hits = new AtomicIntegerArray(100);
        Runnable job = () -> {
            for (int rep = 0; rep < 200; rep++) {
                Parallel.forRange(10, 1, (from, to) -> {
                    for (int i = from; i < to; i++) {
                        int outer = i;
                        Parallel.forRange(10, 1, (f2, t2) -> {
                            for (int j = f2; j < t2; j++) hits.incrementAndGet(outer * 10 + j);
                        });
                    }
                });
            }
        };
        Thread other = new Thread(job);
        other.start();
        job.run();
        other.join();
        for (int i = 0; i < 100; i++) assertEquals(400, hits.get(i));
    }

    @Test
    void exceptionsReachTheCaller() {
        Parallel.setThreads(2);
        var e = assertThrows(IllegalStateException.class, () -> Parallel.forRange(100, 1, (from, to) -> {
            if (from > 0) throw new IllegalStateException("boom " + from);
        }));
        assertEquals(true, e.getMessage().startsWith("boom"));
        // and the pool still works afterwards
        AtomicIntegerArray hits = new AtomicIntegerArray(8);
        Parallel.forRange(8, 1, (from, to) -> {
            for (int i = from; i < to; i++) hits.incrementAndGet(i);
        });
        for (int i = 0; i < 8; i++) assertEquals(1, hits.get(i));
    }
}
