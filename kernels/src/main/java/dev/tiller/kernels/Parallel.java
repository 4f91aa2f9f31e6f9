package dev.tiller.kernels;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;

/**
 * The worker pool for kernels: a fixed number of threads (default: available cores, {@code -Dtiller.threads=N}
 * or {@link #setThreads}), work split into contiguous ranges.
 */
public final class Parallel {
    private static volatile ForkJoinPool pool = new ForkJoinPool(defaultThreads());

    private static int defaultThreads() {
        String p = System.getProperty("tiller.threads");
        return p != null ? Math.max(1, Integer.parseInt(p)) : Runtime.getRuntime().availableProcessors();
    }

    public static int threads() {
        return pool.getParallelism();
    }

    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be >= 1, got " + n);
        if (n != pool.getParallelism()) {
            ForkJoinPool old = pool;
            pool = new ForkJoinPool(n);
            old.shutdown();
        }
    }

    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }

    /** Runs {@code body} over [0, n) split into about one chunk per thread; small ranges run inline. */
    public static void forRange(int n, int minChunk, RangeBody body) {
        int threads = threads();
        if (threads == 1 || n <= minChunk) {
            body.run(0, n);
            return;
        }
        int chunks = Math.min(threads, Math.max(1, n / Math.max(1, minChunk)));
        pool.invoke(new Split(body, 0, n, (n + chunks - 1) / chunks));
    }

    private static final class Split extends RecursiveAction {
        final RangeBody body;
        final int from, to, chunk;

        Split(RangeBody body, int from, int to, int chunk) {
            this.body = body;
            this.from = from;
            this.to = to;
            this.chunk = chunk;
        }

        @Override
        protected void compute() {
            if (to - from <= chunk) {
                body.run(from, to);
                return;
            }
            int mid = from + Math.max(chunk, ((to - from) / 2) / chunk * chunk);
            invokeAll(new Split(body, from, mid, chunk), new Split(body, mid, to, chunk));
        }
    }

    private Parallel() {}
}
