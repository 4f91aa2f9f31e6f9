package dev.tiller.bench;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.kernels.Parallel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code tiller bench -m MODEL -t 2 -p 128 -n 32 -r 5}: llama-bench-style throughput rows, {@code pp128} (one
 * batched prefill of 128 tokens into an empty cache) and {@code tg32} (32 tokens decoded one at a time from an
 * empty cache), tok/s as mean ± stddev over the repetitions after one warm-up run. {@code --membw} measures the
 * read bandwidth of the machine over a mapped file instead, which with the bytes of weights read per token gives
 * the floor on decode time.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Throughput in tokens/s (llama-bench style rows pp<P>, tg<N>), or memory read bandwidth with --membw.")
public final class BenchCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, description = "GGUF file or HF folder")
    Path model;

    @Option(names = {"-t", "--threads"}, description = "worker threads (default: all cores)")
    Integer threads;

    @Option(names = {"-p", "--n-prompt"}, defaultValue = "128", description = "prompt tokens (0 skips pp)")
    int prompt;

    @Option(names = {"-n", "--n-gen"}, defaultValue = "32", description = "generated tokens (0 skips tg)")
    int gen;

    @Option(names = {"-r", "--repetitions"}, defaultValue = "5")
    int reps;

    @Option(names = {"-d", "--depth"}, defaultValue = "0", description = "tokens already in the context before tg is timed "
            + "(llama-bench's tg@dN: decode at that depth)")
    int depth;

    @Option(names = "--batch", defaultValue = "0", paramLabel = "N", description = "instead of pp/tg: N sequences decoding -n tokens each "
            + "together (continuous batching), every one with its own random steering vector on every block, then the same unsteered")
    int batch;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "cpu|cuda", description = "where the forward pass runs (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--membw", description = "measure memory read bandwidth over a mapped buffer instead")
    boolean membw;

    @Option(names = "--membw-mib", defaultValue = "1024", description = "size of the --membw buffer in MiB")
    int membwMib;

    @Override
    public Integer call() throws Exception {
        if (threads != null) Parallel.setThreads(threads);
        int t = Parallel.threads();
        if (membw) {
            memoryBandwidth(t);
        } else {
            if (model == null) throw new IllegalArgumentException("bench needs -m MODEL (or --membw)");
            if (batch < 0) throw new IllegalArgumentException("--batch must be >= 0, got " + batch);
            if (batch > 0) batchThroughput();
            else throughput(t);
        }
        System.out.println(peakRss());
        return 0;
    }

    private void throughput(int t) {
        try (Model m = Model.load(model, dev.tiller.engine.api.Device.parse(device))) {
            var c = m.config();
            long weightBytes = weightBytesPerToken(m);
            System.out.printf(Locale.ROOT, "model %s: %d layers, dim %d, vocab %d, %.1f MiB of weights read per decoded token%n",
                    model.getFileName(), c.layers(), c.dim(), c.vocabSize(), weightBytes / 1048576.0);
            // on the GPU: how the weights are held and which products read them (GEMV / cuBLAS, quantized kept or not)
            if (m.device() == dev.tiller.engine.api.Device.CUDA) System.out.println("device: " + m.describeDevice());
            System.out.printf(Locale.ROOT, "| %-28s | %7s | %-14s | %20s |%n", "model", "threads", "test", "t/s");
            System.out.printf(Locale.ROOT, "| %-28s | %7s | %-14s | %20s |%n", "-".repeat(28), "-".repeat(7), "-".repeat(14), "-".repeat(20));
            SplittableRandom rnd = new SplittableRandom(42);
            if (depth < 0) throw new IllegalArgumentException("--depth must be >= 0, got " + depth);
            Session s = m.newSession(Math.max(prompt, depth + gen) + 8);
            if (prompt > 0) {
                int[] tokens = rnd.ints(prompt, 0, c.vocabSize()).toArray();
                double[] rates = new double[reps];
                for (int r = -1; r < reps; r++) {
                    s.reset();
                    long t0 = System.nanoTime();
                    s.prefill(tokens);
                    double sec = (System.nanoTime() - t0) / 1e9;
                    if (r >= 0) rates[r] = prompt / sec;
                }
                row(model.getFileName().toString(), t, "pp" + prompt, rates);
            }
            if (gen > 0) {
                double[] rates = new double[reps];
                int[] context = rnd.ints(depth, 0, c.vocabSize()).toArray();
                for (int r = -1; r < reps; r++) {
                    s.reset();
                    if (depth > 0) s.prefill(context); // not timed: tg then runs at this depth
                    int tok = rnd.nextInt(c.vocabSize());
                    long t0 = System.nanoTime();
                    for (int i = 0; i < gen; i++) {
                        // a greedy step as generate takes it: the forward pass and the argmax (on the GPU the argmax
                        // runs on the device and one id crosses, unless TILLER_CUDA_DEVICE_ARGMAX=0); the id is not fed
                        // back, so every run decodes the same tokens
                        s.decodeArgmax(tok);
                        tok = (tok * 31 + i + 1) % c.vocabSize();
                    }
                    double sec = (System.nanoTime() - t0) / 1e9;
                    if (r >= 0) rates[r] = gen / sec;
                }
                row(model.getFileName().toString(), t, "tg" + gen + (depth > 0 ? " @ d" + depth : ""), rates);
                double mean = Arrays.stream(rates).average().orElse(0);
                System.out.printf(Locale.ROOT, "decode reads %.2f GB/s of weights at tg%d's mean rate%n", weightBytes * mean / 1e9, gen);
            }
        }
    }

    /**
     * {@code batch} requests of {@code gen} new tokens each (EOS ignored) through the batch engine, all decoding
     * together: once with a distinct random vector per request on every block's resid_post, once unsteered; prints
     * generated tok/s of each (after one warm-up round of each) and their ratio.
     */
    private void batchThroughput() {
        try (Model m = Model.load(model, dev.tiller.engine.api.Device.parse(device))) {
            var c = m.config();
            SplittableRandom rnd = new SplittableRandom(7);
            java.util.Map<String, dev.tiller.engine.batch.RowSteering> vectors = new java.util.HashMap<>();
            List<dev.tiller.engine.batch.BatchRequest> steered = new ArrayList<>(), plain = new ArrayList<>();
            for (int i = 0; i < batch; i++) {
                float[] v = new float[c.dim()];
                for (int j = 0; j < v.length; j++) v[j] = (float) (rnd.nextDouble() - 0.5) * 0.1f;
                java.util.Map<dev.tiller.engine.hooks.HookPoint, List<dev.tiller.engine.batch.RowHook>> hooks = new java.util.LinkedHashMap<>();
                for (int l = 0; l < c.layers(); l++) {
                    hooks.put(new dev.tiller.engine.hooks.HookPoint(dev.tiller.engine.hooks.HookSite.RESID_POST, l),
                            List.of(dev.tiller.engine.batch.RowSteering.addVector(v, 1f)));
                }
                vectors.put("bench-vector-" + i, new dev.tiller.engine.batch.RowSteering(hooks));
                String prompt = "request " + i + ": once upon a time";
                plain.add(dev.tiller.engine.batch.BatchRequest.ofPrompt("p" + i, prompt).withMaxTokens(gen).withTemperature(0f));
                steered.add(plain.getLast().withId("s" + i).withSteer(List.of("bench-vector-" + i)));
            }
            dev.tiller.engine.batch.SteeringResolver resolver = (spec, mdl) -> vectors.get(spec);
            System.out.printf(Locale.ROOT, "batch: %d sequences x %d new tokens, %s%n", batch, gen, m.describeDevice());
            double[] rate = new double[2];
            for (int round = 0; round < 2; round++) { // the first round of each warms up
                for (int k = 0; k < 2; k++) {
                    var engine = new dev.tiller.engine.batch.BatchEngine(m, dev.tiller.engine.batch.BatchEngine.Options.defaults(Math.max(256, gen + 64))
                            .withMaxConcurrent(batch).withIgnoreEos(true)).addResolver(resolver);
                    long t0 = System.nanoTime();
                    var results = engine.runAll(k == 0 ? steered : plain);
                    double sec = (System.nanoTime() - t0) / 1e9;
                    long tokens = results.stream().mapToLong(r -> r.tokens().length).sum();
                    rate[k] = tokens / sec;
                }
            }
            System.out.printf(Locale.ROOT, "| %-28s | %-22s | %12s |%n", "model", "test", "t/s");
            System.out.printf(Locale.ROOT, "| %-28s | %-22s | %12.1f |%n", model.getFileName(), "batch" + batch + " x tg" + gen + " steered", rate[0]);
            System.out.printf(Locale.ROOT, "| %-28s | %-22s | %12.1f |%n", model.getFileName(), "batch" + batch + " x tg" + gen, rate[1]);
            System.out.printf(Locale.ROOT, "steered / unsteered: %.3f%n", rate[0] / rate[1]);
        }
    }

    /** Bytes of every matrix a decoded token multiplies with (all 2-D weights except the embedding when output is separate). */
    private static long weightBytesPerToken(Model m) {
        var w = m.weights();
        long sum = 0;
        for (var lw : w.layers()) {
            for (var mat : new dev.tiller.kernels.WeightMatrix[]{lw.wq(), lw.wk(), lw.wv(), lw.wo(), lw.wGate(), lw.wUp(), lw.wDown()}) {
                sum += mat.rowBytes() * mat.rows();
            }
        }
        sum += w.output().rowBytes() * w.output().rows();
        return sum;
    }

    private static void row(String model, int threads, String test, double[] rates) {
        double mean = Arrays.stream(rates).average().orElse(0);
        double var = 0;
        for (double r : rates) var += (r - mean) * (r - mean);
        double sd = rates.length > 1 ? Math.sqrt(var / (rates.length - 1)) : 0;
        System.out.printf(Locale.ROOT, "| %-28s | %7d | %-14s | %20s |%n", model, threads, test, String.format(Locale.ROOT, "%.2f ± %.2f", mean, sd));
    }

    /**
     * Sums every long of a file-backed mapping with {@code threads} workers (each its own contiguous slice), after one
     * pass that faults the pages in; prints the best of the repetitions in GB/s.
     */
    private void memoryBandwidth(int t) throws IOException {
        long bytes = (long) membwMib << 20;
        Path file = Files.createTempFile("tiller-membw", ".bin");
        try (Arena arena = Arena.ofShared();
             FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.DELETE_ON_CLOSE)) {
            ch.truncate(0);
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
            for (long o = 0; o < bytes; o += 4096) seg.set(ValueLayout.JAVA_LONG, o, o); // dirty every page: it stays in the page cache
            double[] gbs = new double[Math.max(3, reps)];
            long[] sink = new long[1];
            for (int r = -1; r < gbs.length; r++) {
                long t0 = System.nanoTime();
                sink[0] += MemBandwidth.sum(seg, t);
                double sec = (System.nanoTime() - t0) / 1e9;
                if (r >= 0) gbs[r] = bytes / sec / 1e9;
            }
            double best = Arrays.stream(gbs).max().orElse(0), mean = Arrays.stream(gbs).average().orElse(0);
            System.out.printf(Locale.ROOT, "membw: %d threads read %d MiB: best %.2f GB/s, mean %.2f GB/s (checksum %d)%n",
                    t, membwMib, best, mean, sink[0] & 0xFF);
        }
    }

    /** VmHWM (peak resident set) from /proc/self/status; mapped weight-file pages that were touched count in it. */
    static String peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return "peak RSS " + line.substring(6).trim() + " (VmHWM; includes the mapped weight pages read, which are file-backed page cache, not copies)";
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return "peak RSS: unavailable (no /proc/self/status)";
    }
}
