package dev.tiller.engine.model;

import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A cap on the heap memory that the sessions of one model take for their KV caches and for the activations of a
 * forward pass, so that an oversized request fails with a {@link MemoryBudgetExceededException} that says what it
 * asked for, instead of an {@link OutOfMemoryError} that can strike any thread. Thread-safe; shared by all sessions
 * of a model. Weights are memory-mapped and not counted.
 *
 * <p>The default limit is the system property {@code tiller.memBudget} (a size such as {@code 512M} or {@code 6G}) or
 * else 3/4 of the JVM's maximum heap; the CLI sets it with {@code --mem-budget}.
 */
public final class MemoryBudget {
    private final AtomicLong used = new AtomicLong();
    private volatile long limit;

    public MemoryBudget(long limitBytes) {
        setLimit(limitBytes);
    }

    public static MemoryBudget withDefaultLimit() {
        return new MemoryBudget(defaultLimit());
    }

    public static long defaultLimit() {
        String p = System.getProperty("tiller.memBudget");
        return p != null ? parseSize(p) : Runtime.getRuntime().maxMemory() / 4 * 3;
    }

    public long limit() {
        return limit;
    }

    public void setLimit(long limitBytes) {
        if (limitBytes <= 0) throw new IllegalArgumentException("memory budget must be positive, got " + limitBytes);
        this.limit = limitBytes;
    }

    /** Bytes reserved now by all sessions together. */
    public long used() {
        return used.get();
    }

    /**
     * Reserves {@code bytes} for {@code what}, or throws without reserving anything. When the budget is short, memory
     * held by sessions that were dropped without {@code close()} is reclaimed once (a GC) before giving up.
     */
    public void reserve(long bytes, String what) {
        if (bytes < 0) throw new IllegalArgumentException("negative reservation " + bytes);
        if (tryReserve(bytes)) return;
        if (bytes <= limit) {
            System.gc(); // unclosed sessions release their share through a Cleaner
            for (int i = 0; i < 20; i++) {
                if (tryReserve(bytes)) return;
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        long available = Math.max(0, limit - used.get());
        throw new MemoryBudgetExceededException(what + " needs " + format(bytes) + ", but the memory budget has " + format(available)
                + " of " + format(limit) + " left (" + format(used.get()) + " in use by sessions of this model); use a smaller context"
                + " or batch, close unused sessions, or raise the budget (--mem-budget, -Dtiller.memBudget)", bytes, available);
    }

    private boolean tryReserve(long bytes) {
        while (true) {
            long u = used.get();
            if (bytes > limit - u) return false;
            if (used.compareAndSet(u, u + bytes)) return true;
        }
    }

    public void release(long bytes) {
        used.addAndGet(-bytes);
    }

    private static final java.lang.ref.Cleaner CLEANER = java.lang.ref.Cleaner.create();

    /**
     * A running reservation owned by one object (a KV cache): it grows with the owner, and is returned to the budget by
     * {@link Reservation#close()} or, if the owner is dropped without closing, when the owner is garbage-collected.
     */
    public Reservation open(Object owner) {
        Reservation r = new Reservation(this);
        r.cleanable = CLEANER.register(owner, r::release);
        return r;
    }

    public static final class Reservation implements AutoCloseable {
        private final MemoryBudget budget;
        private final AtomicLong bytes = new AtomicLong();
        private java.lang.ref.Cleaner.Cleanable cleanable;

        private Reservation(MemoryBudget budget) {
            this.budget = budget;
        }

        /** Reserves {@code more} bytes on top of what this reservation holds, or throws. */
        public void grow(long more, String what) {
            budget.reserve(more, what);
            bytes.addAndGet(more);
        }

        public long bytes() {
            return bytes.get();
        }

        private void release() {
            budget.release(bytes.getAndSet(0));
        }

        /** Returns everything to the budget; idempotent. */
        @Override
        public void close() {
            cleanable.clean();
        }
    }

    /** Bytes of a KV cache holding {@code positions} positions (keys and values, every layer, float32). */
    public static long kvCacheBytes(ModelConfig c, long positions) {
        return 2L * c.layers() * positions * c.kvDim() * Float.BYTES;
    }

    /**
     * Bytes a forward pass over {@code rows} rows allocates for its activations (residual, normed input, q/k/v,
     * attention output, MLP gate/up) plus {@code logitRows} rows of logits.
     */
    public static long forwardBytes(ModelConfig c, long rows, long logitRows) {
        long perRow = 3L * c.dim() + 2L * c.qDim() + 2L * c.kvDim() + 2L * c.ffnDim();
        return (rows * perRow + logitRows * c.vocabSize()) * Float.BYTES;
    }

    /**
     * Checks that a forward pass of {@code rows} rows fits in Java arrays (each activation buffer is one array) and
     * reserves its activation memory; the caller releases {@code forwardBytes(c, rows, logitRows)} afterwards.
     */
    public void reserveForward(ModelConfig c, int rows, int logitRows) {
        long widest = Math.max(Math.max(c.dim(), c.qDim()), Math.max(c.ffnDim(), c.vocabSize()));
        if ((long) rows * widest > Integer.MAX_VALUE - 8) {
            throw new MemoryBudgetExceededException("a forward pass of " + rows + " tokens needs activation arrays of "
                    + (long) rows * widest + " elements, over Java's array limit; split it into smaller batches",
                    forwardBytes(c, rows, logitRows), Math.max(0, limit - used.get()));
        }
        reserve(forwardBytes(c, rows, logitRows), "a forward pass of " + rows + " tokens" + (logitRows > 1 ? " with " + logitRows + " rows of logits" : ""));
    }

    /** Parses a size: plain bytes, or a number with K, M, G or T (binary units, optional trailing B / iB). */
    public static long parseSize(String s) {
        String t = s.trim().toUpperCase(Locale.ROOT);
        if (t.endsWith("IB")) t = t.substring(0, t.length() - 2);
        else if (t.endsWith("B")) t = t.substring(0, t.length() - 1);
        long mult = 1;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'K' -> mult = 1L << 10;
                case 'M' -> mult = 1L << 20;
                case 'G' -> mult = 1L << 30;
                case 'T' -> mult = 1L << 40;
                default -> { }
            }
            if (mult != 1) t = t.substring(0, t.length() - 1);
        }
        try {
            double v = Double.parseDouble(t.trim());
            if (!(v > 0) || v * mult > Long.MAX_VALUE) throw new NumberFormatException();
            return (long) (v * mult);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a memory size: '" + s + "' (use e.g. 512M or 4G)");
        }
    }

    public static String format(long bytes) {
        if (bytes >= 1L << 30) return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
        if (bytes >= 1L << 20) return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
        if (bytes >= 1L << 10) return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
        return bytes + " B";
    }
}
