package dev.tiller.engine.concurrency;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.chat.ChatMessage;
import dev.tiller.engine.chat.ChatTemplate;
import dev.tiller.testsupport.Shared;
import dev.tiller.testsupport.Slow;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * One loaded model shared by many sessions on many threads gives exactly the results of serial runs: 8 threads run
 * every prompt of both models (stories260K, tiny-random-qwen2) in their own random order, with random yields and
 * sleeps between steps; each run's tokenization, chat rendering and generated ids must equal the serial run's, and its
 * logits must agree to 1e-4 relative (bit-identity is not promised: a method's interpreted and JIT-compiled versions
 * may round the Vector API's reductions differently, so even two serial runs differ in the last bits while the JIT
 * warms up; the test warms up first and reports how many steps were bit-identical). The forward pass splits work by row, so the results do not depend on
 * which thread computes what, and any shared mutable state in Transformer, RopeTable, ModelWeights, Tokenizer or
 * ChatTemplate would show up as a difference (or an exception).
 */
@Slow
class SharedModelStressTest {
    static final Path SHARED = Shared.DIR;
    static final int THREADS = Integer.getInteger("stress.threads", 8);
    static final int STEPS = 8;
    /**
     * Relative tolerance on logits. Not 0: the JIT recompiles the kernels while the test runs, and the Vector API's
     * {@code reduceLanes(ADD)} may sum lanes in a different order in a new compiled version, so even one thread
     * repeating the serial runs drifts by about 2e-5 on tiny-random-qwen2 (measured; see docs/hardening.md).
     */
    static final double TOLERANCE = 1e-4;

    /** One greedy run: for every step the largest logit and the sum of squares of the logits. */
    record Run(String text, int[] promptIds, int[] ids, int[] logitHashes, double[] stepStats, float[] lastLogits, String chat) {}

    /** Greedy decoding written out here (argmax, first on ties), recording every step's logits. */
    static Run run(Model m, String prompt, Random jitter) throws InterruptedException {
        int[] promptIds = m.tokenizer().encode(prompt, true, true);
        String chat = m.chatTemplate().map(t -> t.render(List.of(new ChatMessage("user", prompt)), true)).orElse("");
        try (Session s = m.newSession(promptIds.length + STEPS + 1)) {
            float[] logits = s.prefill(promptIds);
            int[] ids = new int[STEPS];
            int[] hashes = new int[STEPS];
            double[] stats = new double[2 * STEPS];
            for (int i = 0; i < STEPS; i++) {
                hashes[i] = bitsHash(logits);
                int best = 0;
                double squares = 0;
                for (int j = 0; j < logits.length; j++) {
                    if (logits[j] > logits[best]) best = j;
                    squares += (double) logits[j] * logits[j];
                }
                stats[2 * i] = logits[best];
                stats[2 * i + 1] = squares;
                ids[i] = best;
                if (jitter != null) pause(jitter);
                logits = s.decode(best);
            }
            return new Run(prompt, promptIds, ids, hashes, stats, logits.clone(), chat);
        }
    }

    static int bitsHash(float[] a) {
        int h = 1;
        for (float f : a) h = 31 * h + Float.floatToRawIntBits(f);
        return h;
    }

    static void pause(Random r) throws InterruptedException {
        switch (r.nextInt(4)) {
            case 0 -> Thread.yield();
            case 1 -> Thread.sleep(0, r.nextInt(50_000));
            default -> { }
        }
    }

    @Test
    void manyThreadsOnOneModelEqualSerialRuns() throws Exception {
        String[] prompts = {"Once upon a time", "The little dog was very sad because", "Lily and Tom went to the park.",
                "Hello! <|im_start|> 1 + 1 ="};
        try (Model stories = Model.load(SHARED.resolve("models/stories260K.gguf"));
             Model qwen = Model.load(SHARED.resolve("models/tiny-random-qwen2.gguf"))) {
            Model[] models = {stories, qwen};
            // warm up first: a method's interpreted, C1 and C2 versions may round the Vector API's reductions differently
            for (int rep = 0; rep < 2; rep++) for (Model m : models) for (String p : prompts) run(m, p, null);
            List<Run> serial = new ArrayList<>();
            for (Model m : models) for (String p : prompts) serial.add(run(m, p, null));
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            CyclicBarrier start = new CyclicBarrier(THREADS);
            List<Future<List<Run>>> futures = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                long seed = 1000 + t;
                futures.add(pool.submit(() -> {
                    Random r = new Random(seed);
                    List<Integer> order = new ArrayList<>();
                    for (int i = 0; i < serial.size(); i++) order.add(i);
                    java.util.Collections.shuffle(order, r);
                    Run[] out = new Run[serial.size()];
                    start.await();
                    for (int i : order) out[i] = run(models[i / prompts.length], prompts[i % prompts.length], r);
                    return Arrays.asList(out);
                }));
            }
            pool.shutdown();
            assertTrue(pool.awaitTermination(5, TimeUnit.MINUTES), "the threads finish");
            int exact = 0, total = 0;
            for (int t = 0; t < THREADS; t++) {
                List<Run> got = futures.get(t).get();
                for (int i = 0; i < serial.size(); i++) {
                    Run want = serial.get(i), have = got.get(i);
                    String where = "thread " + t + ", model " + (i / prompts.length) + ", prompt '" + want.text() + "'";
                    assertArrayEquals(want.promptIds(), have.promptIds(), where + ": tokenization");
                    assertEquals(want.chat(), have.chat(), where + ": chat template");
                    assertArrayEquals(want.ids(), have.ids(), where + ": generated ids");
                    for (int k = 0; k < want.stepStats().length; k++) {
                        double w = want.stepStats()[k], h = have.stepStats()[k];
                        assertEquals(w, h, TOLERANCE * Math.max(1, Math.abs(w)), where + ": logit statistic " + k % 2 + " of step " + k / 2);
                    }
                    float[] wl = want.lastLogits(), hl = have.lastLogits();
                    for (int j = 0; j < wl.length; j++) assertEquals(wl[j], hl[j], (float) TOLERANCE * Math.max(1, Math.abs(wl[j])), where + ": last logit " + j);
                    for (int k = 0; k < STEPS; k++, total++) if (want.logitHashes()[k] == have.logitHashes()[k]) exact++;
                }
            }
            System.out.printf("SharedModelStressTest: %d threads x %d runs, ids equal; %d of %d steps' logits bit-identical to the serial run%n",
                    THREADS, serial.size(), exact, total);
        }
    }
}
