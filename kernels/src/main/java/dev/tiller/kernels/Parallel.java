package dev.tiller.kernels;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The worker pool for kernels: a fixed number of threads (default: available cores, {@code -Dtiller.threads=N}
 * or {@link #setThreads}), work split into contiguous ranges.
 *
 * <p>A decoded token runs about 170 matrix products of a few hundred microseconds each, so the cost of handing
 * out work matters: the caller publishes a range, the {@code threads - 1} workers (which spin for
 * {@code -Dtiller.spinMicros} microseconds, default 200, after their last task before parking) and the caller
 * itself claim chunks of it with an atomic counter, and the caller spins until the last chunk is done. Nothing
 * is allocated per call besides the task record. A call made while the pool is busy (another thread, or a
 * kernel nested in a task) runs inline on its caller. {@code -Dtiller.pool=forkjoin} switches to a ForkJoinPool
 * of the same size instead (the previous design, kept to compare the two on a given machine).
 */
public final class Parallel {
    private static volatile Pool pool = new Pool(defaultThreads());

    private static int defaultThreads() {
        String p = System.getProperty("tiller.threads");
        return p != null ? Math.max(1, Integer.parseInt(p)) : Runtime.getRuntime().availableProcessors();
    }

    public static int threads() {
        return pool.threads;
    }

    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be >= 1, got " + n);
        if (n != pool.threads) {
            Pool old = pool;
            pool = new Pool(n);
            old.shutdown();
        }
    }

    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }

    /**
     * Runs {@code body} over [0, n) in chunks of at least {@code minChunk} (up to a few per thread, so a slow core
     * takes fewer); small ranges run inline.
     */
    public static void forRange(int n, int minChunk, RangeBody body) {
        Pool p = pool;
        int threads = p.threads;
        if (threads == 1 || n <= minChunk) {
            body.run(0, n);
            return;
        }
        int chunks = Math.min(threads * CHUNKS_PER_THREAD, Math.max(1, n / Math.max(1, minChunk)));
        if (chunks <= 1) {
            body.run(0, n);
            return;
        }
        if (p.forkJoin != null) {
            int c = chunks;
            p.forkJoin.submit(() -> java.util.stream.IntStream.range(0, c).parallel()
                    .forEach(i -> body.run((int) ((long) n * i / c), (int) ((long) n * (i + 1) / c)))).join();
            return;
        }
        p.run(body, n, chunks);
    }

    private static final boolean FORK_JOIN = "forkjoin".equals(System.getProperty("tiller.pool"));

    private static final int CHUNKS_PER_THREAD = 4;
    private static final long SPIN_NANOS = Long.getLong("tiller.spinMicros", 200L) * 1000L;

    /** One published range: chunks are claimed through {@code next} and counted through {@code done}. */
    private static final class Task {
        final RangeBody body;
        final int n, chunks;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        volatile Throwable error;

        Task(RangeBody body, int n, int chunks) {
            this.body = body;
            this.n = n;
            this.chunks = chunks;
        }

        /** Claims and runs chunks until none is left. */
        void work() {
            int c;
            while ((c = next.getAndIncrement()) < chunks) {
                try {
                    int from = (int) ((long) n * c / chunks), to = (int) ((long) n * (c + 1) / chunks);
                    body.run(from, to);
                } catch (Throwable e) {
                    error = e;
                } finally {
                    done.incrementAndGet();
                }
            }
        }
    }

    private static final class Pool {
        final int threads;
        final Worker[] workers;
        final ReentrantLock lock = new ReentrantLock();
        volatile Task current;
        volatile long epoch;
        volatile boolean shutdown;
        final java.util.concurrent.ForkJoinPool forkJoin;

        Pool(int threads) {
            this.threads = threads;
            this.forkJoin = FORK_JOIN ? new java.util.concurrent.ForkJoinPool(threads) : null;
            this.workers = new Worker[FORK_JOIN ? 0 : threads - 1];
            for (int i = 0; i < workers.length; i++) {
                workers[i] = new Worker(this, i);
                workers[i].start();
            }
        }

        void run(RangeBody body, int n, int chunks) {
            if (Thread.currentThread() instanceof Worker || lock.isHeldByCurrentThread() || !lock.tryLock()) {
                body.run(0, n);
                return;
            }
            try {
                Task task = new Task(body, n, chunks);
                current = task;
                epoch++; // volatile write after current: a worker that sees the new epoch sees the task
                for (Worker w : workers) {
                    if (w.sleeping) LockSupport.unpark(w);
                }
                task.work();
                // Spin for the workers' chunks, yielding now and then in case a worker waits for this core.
                for (int spins = 1; task.done.get() < chunks; spins++) {
                    if ((spins & 1023) == 0) Thread.yield();
                    else Thread.onSpinWait();
                }
                current = null;
                Throwable e = task.error;
                if (e instanceof RuntimeException re) throw re;
                if (e instanceof Error er) throw er;
                if (e != null) throw new RuntimeException(e);
            } finally {
                lock.unlock();
            }
        }

        void shutdown() {
            if (forkJoin != null) forkJoin.shutdown();
            shutdown = true;
            epoch++;
            for (Worker w : workers) LockSupport.unpark(w);
        }
    }

    private static final class Worker extends Thread {
        final Pool pool;
        volatile boolean sleeping;

        Worker(Pool pool, int index) {
            super("tiller-worker-" + (index + 1));
            this.pool = pool;
            setDaemon(true);
        }

        @Override
        public void run() {
            long seen = pool.epoch;
            while (!pool.shutdown) {
                long e = waitForEpoch(seen);
                seen = e;
                Task t = pool.current;
                if (t != null) t.work();
            }
        }

        /** Spins for a while, then parks, until the pool's epoch moves past {@code seen}. */
        private long waitForEpoch(long seen) {
            long e;
            long start = System.nanoTime();
            int spins = 0;
            while ((e = pool.epoch) == seen) {
                Thread.onSpinWait();
                if ((++spins & 255) == 0 && System.nanoTime() - start > SPIN_NANOS) {
                    sleeping = true;
                    while ((e = pool.epoch) == seen) LockSupport.park(this);
                    sleeping = false;
                    return e;
                }
            }
            return e;
        }
    }

    private Parallel() {}
}
