package dev.tiller.loader.fuzz;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;


/**
 * A seeded, structure-aware mutation fuzzer that runs under plain JUnit: a fixed number of iterations from a fixed
 * random seed, so a CI run is short and reproducible. Each seed runs unmutated first, then mutants of randomly
 * chosen seeds. A finding (any throwable escaping the target, an input using more CPU time than {@link #SLOW}, or one
 * allocating more than {@link #allocationLimit}) is saved under {@code target/fuzz-findings/} and fails the test.
 *
 * <p>Complements the Jazzer {@code @FuzzTest}s (coverage-guided, long runs): see docs/hardening.md.
 */
public final class SeededFuzzer {
    /** An input that takes more CPU time than this counts as a hang (CPU time, not wall time: the machine is shared). */
    public static final Duration SLOW = Duration.ofSeconds(5);
    private static final com.sun.management.ThreadMXBean MX = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private final String name;
    private final List<byte[]> seeds;
    private final boolean text;
    private final Consumer<byte[]> target;

    public SeededFuzzer(String name, List<byte[]> seeds, boolean text, Consumer<byte[]> target) {
        if (seeds.isEmpty()) throw new IllegalArgumentException("no seeds for " + name);
        this.name = name;
        this.seeds = seeds;
        this.text = text;
        this.target = target;
    }

    /** The bytes a single input may allocate on the heap: generous, but far below what an unchecked length would ask. */
    public static long allocationLimit(int inputLength) {
        return (256L << 20) + 200L * inputLength;
    }

    /**
     * Runs the seeds, then up to {@code iterations} mutants within {@code budget}; returns the number of executions.
     * The inputs run on a worker thread that this thread watches: an input still running after {@link #SLOW} is
     * reported as a hang with the worker's stack (the worker, which cannot be stopped, is left to finish as a daemon).
     */
    public long run(long randomSeed, int iterations, Duration budget) {
        Mutator m = new Mutator(randomSeed, seeds);
        java.util.concurrent.atomic.AtomicReference<byte[]> current = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.atomic.AtomicLong started = new java.util.concurrent.atomic.AtomicLong(System.nanoTime());
        java.util.concurrent.atomic.AtomicLong execs = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        long deadline = System.nanoTime() + budget.toNanos();
        Thread worker = Thread.ofPlatform().daemon().name("fuzz-" + name).unstarted(() -> {
            try {
                for (int i = -seeds.size(); i < iterations; i++) {
                    if (i >= 0 && System.nanoTime() > deadline) break;
                    byte[] in = i < 0 ? seeds.get(i + seeds.size()) : m.mutate(seeds.get(m.random().nextInt(seeds.size())), text);
                    started.set(MX.getCurrentThreadCpuTime());
                    current.set(in);
                    execute(in);
                    execs.incrementAndGet();
                }
            } catch (Throwable t) {
                failure.set(t);
            } finally {
                current.set(null);
            }
        });
        worker.start();
        try {
            while (worker.isAlive()) {
                worker.join(100);
                byte[] in = current.get();
                if (worker.isAlive() && in != null && MX.getThreadCpuTime(worker.threadId()) - started.get() > SLOW.toNanos()) {
                    AssertionError e = finding(in, "still runs after " + SLOW.toSeconds() + " s of CPU time (a hang)", null);
                    e.setStackTrace(worker.getStackTrace());
                    throw e;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        Throwable t = failure.get();
        if (t instanceof Error err) throw err;
        if (t != null) throw new AssertionError(t);
        return execs.get();
    }

    /** Runs one input through the target with the hang and allocation oracles; saves and rethrows a finding. */
    public void execute(byte[] input) {
        long before = MX.getCurrentThreadAllocatedBytes();
        long t0 = MX.getCurrentThreadCpuTime();
        try {
            target.accept(input);
        } catch (Throwable t) {
            throw finding(input, "threw " + t, t);
        }
        long nanos = MX.getCurrentThreadCpuTime() - t0;
        long allocated = MX.getCurrentThreadAllocatedBytes() - before;
        if (nanos > SLOW.toNanos()) throw finding(input, "took " + nanos / 1_000_000 + " ms of CPU time", null);
        if (allocated > allocationLimit(input.length)) {
            throw finding(input, "allocated " + allocated + " bytes for a " + input.length + "-byte input", null);
        }
    }

    private AssertionError finding(byte[] input, String what, Throwable cause) {
        String file = "?";
        try {
            Path dir = Path.of("target", "fuzz-findings");
            Files.createDirectories(dir);
            byte[] digest = java.security.MessageDigest.getInstance("SHA-1").digest(input);
            Path p = dir.resolve(name + "-" + HexFormat.of().formatHex(digest, 0, 8));
            Files.write(p, input);
            file = p.toAbsolutePath().toString();
        } catch (IOException | java.security.NoSuchAlgorithmException e) {
            file = "(not saved: " + e + ")";
        }
        return new AssertionError(name + ": finding: input of " + input.length + " bytes " + what + "; saved to " + file, cause);
    }

    public static List<byte[]> list(byte[]... items) {
        return new ArrayList<>(List.of(items));
    }
}
