package dev.tiller.engine.batch;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.chat.ChatTemplate;
import dev.tiller.engine.generate.DecodeState;
import dev.tiller.engine.generate.TokenListener;
import dev.tiller.engine.hooks.Activations;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.engine.model.Batch;
import dev.tiller.engine.model.KVCache;
import dev.tiller.engine.sampling.SamplerConfig;
import dev.tiller.engine.thinking.LogitsProcessor;
import dev.tiller.engine.thinking.ThinkingProcessor;
import dev.tiller.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Continuous batching: up to {@code maxConcurrent} requests decode together, one {@link dev.tiller.engine.model.ForwardPass#forward(Batch,
 * Hooks, float[])} per step. Each step holds one row per decoding sequence plus chunks of the prompts of newly admitted
 * sequences (up to {@code maxRowsPerStep} rows in all); a sequence that finishes frees its slot and the next request
 * takes it in the following step. Each request has its own {@link DecodeState} (sampler seeded from its {@code seed},
 * or from the job seed and its id, so reruns and resumed jobs draw the same; stop strings; logits processors) and its
 * own steering (hooks that touch only its rows, found by the row's sequence tag = slot index).
 *
 * <p>A request's output does not depend on what it is batched with: rows are computed independently, so greedy
 * output equals {@code Generator}'s one-at-a-time output token for token.
 */
public final class BatchEngine {

    /**
     * @param maxConcurrent   sequences decoding at once
     * @param maxRowsPerStep  rows (tokens) per forward pass, prompt chunks included; at least {@code maxConcurrent}
     * @param contextSize     KV positions per sequence (prompt + generated)
     * @param sampler         defaults for requests that do not set temperature, top-p, top-k, min-p
     * @param jobSeed         mixed with each request id to seed requests without their own seed
     * @param maxTokens       default {@code max_tokens}
     * @param ignoreEos       keep going past end-of-generation tokens (benchmarks)
     */
    public record Options(int maxConcurrent, int maxRowsPerStep, int contextSize, SamplerConfig sampler, long jobSeed,
                          int maxTokens, boolean ignoreEos) {
        public Options {
            if (maxConcurrent < 1) throw new IllegalArgumentException("parallel sequences must be >= 1, got " + maxConcurrent);
            if (maxRowsPerStep < maxConcurrent) maxRowsPerStep = maxConcurrent;
            if (contextSize < 1) throw new IllegalArgumentException("context size must be >= 1");
        }

        public static Options defaults(int contextSize) {
            return new Options(8, 512, contextSize, SamplerConfig.greedy(), 0, 256, false);
        }

        public Options withMaxConcurrent(int n) {
            return new Options(n, Math.max(maxRowsPerStep, n), contextSize, sampler, jobSeed, maxTokens, ignoreEos);
        }

        public Options withSampler(SamplerConfig s) {
            return new Options(maxConcurrent, maxRowsPerStep, contextSize, s, jobSeed, maxTokens, ignoreEos);
        }

        public Options withMaxTokens(int n) {
            return new Options(maxConcurrent, maxRowsPerStep, contextSize, sampler, jobSeed, n, ignoreEos);
        }

        public Options withIgnoreEos(boolean b) {
            return new Options(maxConcurrent, maxRowsPerStep, contextSize, sampler, jobSeed, maxTokens, b);
        }

        public Options withJobSeed(long s) {
            return new Options(maxConcurrent, maxRowsPerStep, contextSize, sampler, s, maxTokens, ignoreEos);
        }
    }

    /** Called after every step. */
    public interface Progress {
        void update(int done, long generatedTokens, long promptTokens, long elapsedNanos);

        Progress NONE = (d, g, p, e) -> {};
    }

    private final Model model;
    private final dev.tiller.engine.model.ForwardPass forwardPass;
    private final Tokenizer tokenizer;
    private final Options options;
    private final int vocab;
    private final List<SteeringResolver> resolvers = new ArrayList<>();
    private final Map<String, RowSteering> steeringCache = new HashMap<>();
    private Function<BatchRequest, List<LogitsProcessor>> extraProcessors = r -> List.of();
    private Function<BatchRequest, int[]> givenPrompts = r -> null;

    public BatchEngine(Model model, Options options) {
        this.model = model;
        this.forwardPass = model.forwardPass(); // the GPU pass when the model was loaded for CUDA: all rows in one device forward
        this.tokenizer = model.tokenizer();
        this.options = options;
        this.vocab = model.config().vocabSize();
        for (SteeringResolver r : ServiceLoader.load(SteeringResolver.class)) resolvers.add(r);
    }

    public Options options() {
        return options;
    }

    /** Adds resolvers for {@code steer} specs beyond those found by ServiceLoader (tried first). */
    public BatchEngine addResolver(SteeringResolver r) {
        resolvers.addFirst(r);
        return this;
    }

    /** Logits processors to add to each request (e.g. the eval harness's decision scaling). */
    public BatchEngine withProcessors(Function<BatchRequest, List<LogitsProcessor>> f) {
        this.extraProcessors = f;
        return this;
    }

    /** Runs every request; results go to {@code sink} in completion order, one per request, errors included. */
    public void run(Iterable<BatchRequest> requests, Consumer<BatchResult> sink) {
        run(requests, sink, Progress.NONE);
    }

    public void run(Iterable<BatchRequest> requests, Consumer<BatchResult> sink, Progress progress) {
        new Run(requests.iterator(), sink, progress).loop();
    }

    /** Convenience: runs all and returns results in request order. */
    public List<BatchResult> runAll(List<BatchRequest> requests) {
        Map<String, BatchResult> byId = new HashMap<>();
        List<BatchResult> errors = new ArrayList<>();
        run(requests, r -> {
            if (byId.putIfAbsent(r.id(), r) != null) errors.add(r);
        });
        List<BatchResult> out = new ArrayList<>();
        for (BatchRequest q : requests) out.add(byId.get(q.id()));
        return out;
    }

    /** One sequence in flight. */
    private final class Slot {
        final int index;
        KVCache cache;
        BatchRequest req;
        int[] prompt;
        int prefilled;
        int pending = -1;
        DecodeState decode;
        RowSteering steering = RowSteering.NONE;
        long admitted;
        long firstToken;

        Slot(int index) {
            this.index = index;
        }

        boolean active() {
            return req != null;
        }

        boolean prefilling() {
            return prefilled < prompt.length;
        }
    }

    private final class Run {
        final Iterator<BatchRequest> queue;
        final Consumer<BatchResult> sink;
        final Progress progress;
        final Slot[] slots = new Slot[options.maxConcurrent()];
        final Hooks hooks = new Hooks(model.config().layers());
        final Set<HookPoint> dispatched = new HashSet<>();
        final Batch batch = new Batch(options.maxRowsPerStep());
        final int[] rowSlot = new int[options.maxRowsPerStep()];
        final boolean[] rowWants = new boolean[options.maxRowsPerStep()];
        final boolean[] argmaxOnly = new boolean[options.maxRowsPerStep()]; // per logit row
        final float[] drawTemp = new float[options.maxRowsPerStep()];      // per logit row: 1/T of a device draw, or 0
        final long[] drawKeys = new long[options.maxRowsPerStep()];
        final int[] argmaxIds = new int[options.maxRowsPerStep()];
        float[] logits = new float[vocab];
        int done;
        long generatedTokens, promptTokens;
        final long start = System.nanoTime();

        Run(Iterator<BatchRequest> queue, Consumer<BatchResult> sink, Progress progress) {
            this.queue = queue;
            this.sink = sink;
            this.progress = progress;
            for (int i = 0; i < slots.length; i++) slots[i] = new Slot(i);
        }

        void loop() {
            while (true) {
                admit();
                batch.clear();
                int rows = 0;
                for (Slot s : slots) {
                    if (s.active() && !s.prefilling()) {
                        batch.add(s.pending, s.cache.length(), s.cache, s.index, true);
                        rowWants[rows] = true;
                        rowSlot[rows++] = s.index;
                    }
                }
                for (Slot s : slots) {
                    if (!s.active() || !s.prefilling() || rows >= batch.capacity()) continue;
                    int n = Math.min(s.prompt.length - s.prefilled, batch.capacity() - rows);
                    for (int i = 0; i < n; i++) {
                        int p = s.prefilled + i;
                        boolean last = p == s.prompt.length - 1;
                        batch.add(s.prompt[p], s.cache.length() + i, s.cache, s.index, last);
                        rowWants[rows] = last;
                        rowSlot[rows++] = s.index;
                    }
                    s.prefilled += n;
                    promptTokens += n;
                }
                if (rows == 0) break;
                int want = batch.logitRows();
                if (logits.length < want * vocab) logits = new float[want * vocab];
                // per step and row: a greedy slot with no processors needs only its row's argmax, and a plain
                // temperature draw only a Gumbel-max pick, which a GPU computes on the device (the row is then not copied
                // to the host); the others get the whole row
                boolean draws = forwardPass.picksOnDevice();
                int r = 0;
                for (int i = 0; i < rows; i++) {
                    if (!rowWants[i]) continue;
                    DecodeState d = slots[rowSlot[i]].decode;
                    argmaxOnly[r] = d.greedyOnly();
                    boolean draw = draws && !argmaxOnly[r] && d.drawOnly();
                    drawTemp[r] = draw ? d.inverseTemperature() : 0f;
                    drawKeys[r] = draw ? d.drawKey() : 0;
                    r++;
                }
                dev.tiller.engine.model.MemoryBudget budget = model.memoryBudget();
                budget.reserveForward(model.config(), rows, want);
                try {
                    if (draws) forwardPass.forward(batch, hooks, logits, vocab, argmaxOnly, drawTemp, drawKeys, argmaxIds);
                    else forwardPass.forward(batch, hooks, logits, vocab, argmaxOnly, argmaxIds);
                } finally {
                    budget.release(dev.tiller.engine.model.MemoryBudget.forwardBytes(model.config(), rows, want));
                }
                r = 0;
                for (int i = 0; i < rows; i++) {
                    if (!rowWants[i]) continue;
                    step(slots[rowSlot[i]], r, r * vocab);
                    r++;
                }
                progress.update(done, generatedTokens, promptTokens, System.nanoTime() - start);
            }
            progress.update(done, generatedTokens, promptTokens, System.nanoTime() - start);
        }

        void admit() {
            for (Slot s : slots) {
                while (!s.active() && queue.hasNext()) {
                    BatchRequest req = queue.next();
                    try {
                        prepare(s, req);
                    } catch (RuntimeException e) {
                        s.req = null;
                        finishWith(BatchResult.error(req.id(), message(e)));
                    }
                }
            }
        }

        void prepare(Slot s, BatchRequest req) {
            s.admitted = System.nanoTime();
            s.firstToken = 0;
            int[] prompt = promptTokens(req);
            int maxTokens = req.maxTokens() != null ? req.maxTokens() : options.maxTokens();
            if (maxTokens < 0) throw new IllegalArgumentException("max_tokens must be >= 0, got " + maxTokens);
            if (prompt.length == 0) throw new IllegalArgumentException("the prompt is empty (no tokens to condition on)");
            if (prompt.length > options.contextSize()) {
                throw new IllegalArgumentException("the prompt has " + prompt.length + " tokens, more than the context size " + options.contextSize());
            }
            SamplerConfig sc = samplerFor(req);
            List<LogitsProcessor> procs = new ArrayList<>(extraProcessors.apply(req));
            if (req.thinking() != null) procs.add(new ThinkingProcessor(req.thinking(), tokenizer));
            RowSteering steering = steeringFor(req);
            DecodeState decode = new DecodeState(tokenizer, sc, req.stop(), maxTokens, options.ignoreEos(), procs, prompt,
                    TokenListener.NONE);
            if (steering.prefixTokens() > 0) {   // prefix vectors: placeholders the EMBED row hook overwrites, then the prompt
                int[] withPrefix = new int[steering.prefixTokens() + prompt.length];
                java.util.Arrays.fill(withPrefix, 0, steering.prefixTokens(), RowSteering.PLACEHOLDER_TOKEN);
                System.arraycopy(prompt, 0, withPrefix, steering.prefixTokens(), prompt.length);
                prompt = withPrefix;
                if (prompt.length > options.contextSize()) {
                    throw new IllegalArgumentException("the prompt has " + prompt.length + " tokens with its " + steering.prefixTokens()
                            + " prefix vectors, more than the context size " + options.contextSize());
                }
            }
            for (HookPoint p : steering.hooks().keySet()) installDispatcher(p);

            // drawn from the model's memory budget: too many slots x context fails here, as this request's error
            if (s.cache == null) s.cache = new KVCache(model.config(), options.contextSize(), model.memoryBudget());
            s.cache.truncate(0);
            s.req = req;
            s.prompt = prompt;
            s.prefilled = 0;
            s.pending = -1;
            s.decode = decode;
            s.steering = steering;
            if (decode.ended()) finish(s); // max_tokens 0
        }

        /**
         * Picks the next token of a slot from its logit row {@code row} (its argmax when only that was asked for, else
         * the logits at {@code offset}), and finishes the slot or queues the token.
         */
        void step(Slot s, int row, int offset) {
            int token = argmaxOnly[row] ? s.decode.nextGreedy(argmaxIds[row])
                    : drawTemp[row] > 0 ? s.decode.nextDrawn(argmaxIds[row]) : s.decode.next(logits, offset, vocab);
            if (s.firstToken == 0) s.firstToken = System.nanoTime();
            generatedTokens++;
            if (s.decode.accept(token)) {
                finish(s);
                return;
            }
            if (s.cache.length() >= options.contextSize()) {
                s.decode.end("context");
                finish(s);
                return;
            }
            s.pending = token;
        }

        void finish(Slot s) {
            long now = System.nanoTime();
            DecodeState d = s.decode;
            int[] gen = d.tokens();
            BatchResult r = new BatchResult(s.req.id(), d.text(), gen, d.finishReason(), s.prompt.length, gen.length, d.thinkingTokens(),
                    s.firstToken == 0 ? 0 : (s.firstToken - s.admitted) / 1e6, (now - s.admitted) / 1e6, null);
            s.req = null;
            s.decode = null;
            s.steering = RowSteering.NONE;
            s.prompt = new int[0];
            s.prefilled = 0;
            finishWith(r);
        }

        void finishWith(BatchResult r) {
            done++;
            sink.accept(r);
        }

        void installDispatcher(HookPoint p) {
            if (!dispatched.add(p)) return;
            hooks.add(p, new Dispatcher(p));
        }

        /** Runs each row's request's own hooks at one point; on a GPU, plain vector adds run there from a per-row table. */
        private final class Dispatcher implements dev.tiller.engine.hooks.PerSequenceAdds {
            private final HookPoint point;

            Dispatcher(HookPoint point) {
                this.point = point;
            }

            @Override
            public void apply(Activations a) {
                for (int t = 0; t < a.tokens(); t++) {
                    int tag = a.sequence(t);
                    if (tag < 0 || tag >= slots.length) continue;
                    List<RowHook> list = slots[tag].steering.hooks().get(point);
                    if (list == null) continue;
                    for (RowHook h : list) h.apply(a, t);
                }
            }

            @Override
            public List<dev.tiller.engine.hooks.RowVectorAdd> addsFor(int tag) {
                if (tag < 0 || tag >= slots.length) return List.of();
                List<RowHook> list = slots[tag].steering.hooks().get(point);
                if (list == null) return List.of();
                List<dev.tiller.engine.hooks.RowVectorAdd> adds = new ArrayList<>(list.size());
                for (RowHook h : list) {
                    if (!(h instanceof RowSteering.RowAdd ra)) return null;
                    adds.add(new dev.tiller.engine.hooks.RowVectorAdd(ra.direction(), ra.scale()));
                }
                return adds;
            }
        }
    }

    /**
     * Requests whose prompt the caller has already tokenized: {@code f} returns a request's prompt tokens, or null to
     * tokenize its text as usual. A trainer uses it so that the sampled tokens follow exactly the prompt tokens its
     * loss is computed on.
     */
    public BatchEngine withPromptTokens(Function<BatchRequest, int[]> f) {
        this.givenPrompts = f;
        return this;
    }

    int[] promptTokens(BatchRequest req) {
        int[] given = givenPrompts.apply(req);
        if (given != null) return given.clone();
        if (req.prompt() != null && req.messages() != null) throw new IllegalArgumentException("give either prompt or messages, not both");
        if (req.messages() != null) {
            if (req.messages().isEmpty()) throw new IllegalArgumentException("messages is empty");
            ChatTemplate t = model.chatTemplate().orElseThrow(() -> new IllegalArgumentException("messages: the model has no chat template"));
            return tokenizer.encode(t.render(req.messages(), true), false, true);
        }
        if (req.prompt() == null) throw new IllegalArgumentException("the request has neither prompt nor messages");
        return tokenizer.encode(req.prompt(), true, true);
    }

    SamplerConfig samplerFor(BatchRequest req) {
        SamplerConfig sc = options.sampler();
        if (req.temperature() != null) sc = sc.withTemperature(req.temperature());
        if (req.topP() != null) sc = sc.withTopP(req.topP());
        if (req.topK() != null) sc = sc.withTopK(req.topK());
        if (req.minP() != null) sc = sc.withMinP(req.minP());
        long seed = req.seed() != null ? req.seed() : mix(options.jobSeed(), req.id());
        return sc.withSeed(seed);
    }

    /** A request's seed when it sets none: the job seed mixed with a hash of its id (stable across runs). */
    static long mix(long jobSeed, String id) {
        long h = 0xcbf29ce484222325L;
        for (byte b : id.getBytes(java.nio.charset.StandardCharsets.UTF_8)) h = (h ^ (b & 0xff)) * 0x100000001b3L;
        long z = h ^ jobSeed * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return (z ^ (z >>> 31)) & Long.MAX_VALUE; // non-negative: never the random-seed marker -1
    }

    RowSteering steeringFor(BatchRequest req) {
        if (req.steer().isEmpty()) return RowSteering.NONE;
        List<RowSteering> parts = new ArrayList<>();
        for (String spec : req.steer()) {
            RowSteering rs = steeringCache.get(spec);
            if (rs == null) {
                for (SteeringResolver r : resolvers) {
                    rs = r.resolve(spec, model);
                    if (rs != null) break;
                }
                if (rs == null) {
                    throw new IllegalArgumentException("steer '" + spec + "': no steering provider understands it"
                            + (resolvers.isEmpty() ? " (the tiller-steering module is not on the class path)" : ""));
                }
                steeringCache.put(spec, rs);
            }
            parts.add(rs);
        }
        return RowSteering.combine(parts);
    }

    static String message(RuntimeException e) {
        String m = e.getMessage();
        return m == null ? e.getClass().getSimpleName() : m;
    }

    /** The tokens the tokenizer gives {@code text} when it follows {@code context} (from the first differing token on). */
    public static int[] continuationTokens(Tokenizer tok, String context, String text) {
        int[] a = tok.encode(context, true, false);
        int[] b = tok.encode(context + text, true, false);
        int i = 0;
        while (i < a.length && i < b.length && a[i] == b[i]) i++;
        return Arrays.copyOfRange(b, i, b.length);
    }
}
