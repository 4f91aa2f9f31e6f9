package dev.tiller.steering.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.batch.BatchEngine;
import dev.tiller.engine.batch.BatchRequest;
import dev.tiller.engine.batch.BatchResult;
import dev.tiller.engine.batch.RowHook;
import dev.tiller.engine.batch.RowSteering;
import dev.tiller.engine.generate.GenerationOptions;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.sampling.SamplerConfig;
import dev.tiller.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Trains steering vectors ({@link SteeringParams}) on a frozen model by backprop through {@link DiffTransformer}:
 * <ul>
 *   <li>{@code ce}: cross-entropy of the completion tokens (and EOS) given the prompt;</li>
 *   <li>{@code entropy}: mean token entropy of the model's own (steered) generations, no labels (test-time);</li>
 *   <li>{@code grpo}: G samples per prompt, group-normalized advantages of a verifiable reward (minus a length
 *       penalty), policy gradient through the vectors, optional k3 KL to the unsteered model;</li>
 *   <li>{@code contrastive}: pull the steered activation at a read point toward that of a strong prompt and away from
 *       that of a weak one (margin + pull, see {@link #contrastiveLoss}).</li>
 * </ul>
 * A step whose loss or gradient is not finite, or whose reward throws, stops training; the vectors of the last good
 * step are kept.
 */
public final class Trainer implements AutoCloseable {
    public enum Objective { CE, ENTROPY, GRPO, CONTRASTIVE }

    public static final class Config {
        public Objective objective = Objective.CE;
        public HookSite site = HookSite.RESID_POST;
        public int[] layers;                 // null: all
        public int prefix = 0;
        public int steps = 60, batch = 32;
        public double lr = 0.05, weightDecay = 0, clip = 0;
        public int warmup = 0;
        public boolean cosine = false;
        public long seed = 1;
        public int maxNewTokens = 64, group = 8;
        public float temperature = 1f;
        public double klBeta = 0;
        /** GRPO advantages: (r − mean) / std (true, GRPO) or r − mean (false, Dr. GRPO-style, keeps reward scale). */
        public boolean stdNormalize = true;
        public String reward = "answer";
        /** Strings that end a sampled generation (entropy, grpo), e.g. "." for one sentence; the token that completes one is kept. */
        public List<String> stop = List.of();
        public double lengthPenalty = 0;
        public int targetLength = 0;
        public String strongSuffix = " Think step by step.", weakSuffix = "";
        public String template = "Q: {question}\nA:";
        public String read;                  // contrastive read point; null: last block's resid_post
        public double initScale = 0;
        /** On the CPU: products in float64 too (the reference; about half the speed), instead of float32 products. */
        public boolean exact = false;
        /** Text whose token embeddings the prefix vectors start as (cycled to K); null: the BOS embedding. */
        public String prefixInit;

        /** The configuration as a JSON object (stored in the steering file's provenance); keys in snake_case. */
        public String toJson() {
            Map<String, Object> j = new LinkedHashMap<>();
            j.put("objective", objective.name().toLowerCase(Locale.ROOT));
            j.put("site", site == null ? "" : site.suffix);
            j.put("layers", layers == null ? "all" : layers);
            j.put("prefix", prefix);
            j.put("steps", steps);
            j.put("batch", batch);
            j.put("lr", lr);
            j.put("weight_decay", weightDecay);
            j.put("clip", clip);
            j.put("precision", exact ? "float64" : "mixed");
            j.put("warmup", warmup);
            j.put("cosine", cosine);
            j.put("seed", seed);
            j.put("max_new_tokens", maxNewTokens);
            j.put("group", group);
            j.put("temperature", temperature);
            j.put("kl_beta", klBeta);
            j.put("advantage", stdNormalize ? "std" : "center");
            j.put("reward", reward);
            j.put("length_penalty", lengthPenalty);
            j.put("target_length", targetLength);
            j.put("read", read == null ? "" : read);
            j.put("template", template);
            j.put("stop", stop);
            j.put("prefix_init", prefixInit == null ? "" : prefixInit);
            return json(j);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A flat map of strings, numbers, booleans, lists and arrays as a JSON object (config and metrics records). */
    public static String json(Map<String, Object> values) {
        try {
            return JSON.writeValueAsString(values);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("not serializable as JSON: " + e.getMessage(), e);
        }
    }

    public record Result(SteeringParams params, Curve curve, boolean completed, String message, double seconds, long tokens) {}

    private final Model model;
    private final DiffTransformer dt;
    private final Tokenizer tok;
    private final Config cfg;
    private final Rewards.Reward reward;
    private final Map<Integer, double[][]> contrastRefs = new HashMap<>();

    public Trainer(Model model, Config cfg) {
        this.model = model;
        this.dt = DiffTransformer.of(model, cfg.exact);
        this.tok = model.tokenizer();
        this.cfg = cfg;
        this.reward = cfg.objective == Objective.GRPO ? Rewards.parse(cfg.reward) : null;
    }

    public DiffTransformer diff() {
        return dt;
    }

    /** Frees the training backend's own memory (GPU scratch); the model stays open. */
    @Override
    public void close() {
        dt.close();
    }

    public SteeringParams newParams() {
        int L = model.config().layers();
        int[] layers = cfg.layers;
        if (layers == null) {
            layers = new int[L];
            for (int i = 0; i < L; i++) layers[i] = i;
        }
        SteeringParams p = new SteeringParams(model.config().dim(), L, cfg.prefix > 0 && cfg.site == null ? null : cfg.site, layers, cfg.prefix);
        // prefix vectors start as the BOS embedding (a token every sequence begins with, so the model knows it);
        // zero vectors would sit at RMSNorm's singular point, where the first step blows them up to full scale
        // (or, with prefixInit, as the embeddings of that text's tokens: a model may read K extra BOS tokens badly)
        if (cfg.prefix > 0) {
            int[] init = {Math.max(0, tok.bosId())};
            if (cfg.prefixInit != null) {
                init = tok.encode(cfg.prefixInit, false, true);
                if (init.length == 0) throw new IllegalArgumentException("--prefix-init '" + cfg.prefixInit + "' has no tokens");
            }
            for (int k = 0; k < cfg.prefix; k++) {
                dev.tiller.kernels.backward.DoubleMatMul.row(model.weights().tokenEmbedding(), init[k % init.length], p.theta, p.prefixOffset(k));
            }
        }
        if (cfg.initScale > 0) {
            Random r = new Random(cfg.seed);
            for (int i = 0; i < p.theta.length; i++) p.theta[i] = r.nextGaussian() * cfg.initScale;
        }
        return p;
    }

    /** One step's data: the sequences, and per wanted row its target token and weight; plus reward if any. */
    record StepData(List<DiffTransformer.Sequence> seqs, int[] targets, double[] weights, double meanReward, long tokens, List<TrainData.Row> rows,
                    int groupsWithSignal, double meanSampleTokens) {
        StepData(List<DiffTransformer.Sequence> seqs, int[] targets, double[] weights) {
            this(seqs, targets, weights, Double.NaN, 0, List.of(), -1, Double.NaN);
        }
    }

    public Result train(List<TrainData.Row> data, SteeringParams p, Consumer<String> log) {
        if (data.isEmpty()) throw new IllegalArgumentException("no training rows");
        checkRows(data);
        Adam opt = new Adam(p.size(), cfg.lr, cfg.weightDecay, cfg.clip, cfg.warmup, cfg.steps, cfg.cosine);
        Curve curve = new Curve();
        Random rnd = new Random(cfg.seed);
        List<TrainData.Row> order = new ArrayList<>(data);
        int cursor = order.size();
        long t0 = System.nanoTime(), totalTokens = 0;
        for (int step = 0; step < cfg.steps; step++) {
            long s0 = System.nanoTime();
            List<TrainData.Row> batch = new ArrayList<>();
            while (batch.size() < Math.min(cfg.batch, data.size())) {
                if (cursor == order.size()) {
                    java.util.Collections.shuffle(order, rnd);
                    cursor = 0;
                }
                batch.add(order.get(cursor++));
            }
            double loss;
            double[] grad;
            StepData sd;
            try {
                sd = prepare(batch, p, step);
                double[][] g = new double[1][];
                loss = lossAndGrad(sd, p, g);
                grad = g[0];
            } catch (RewardException e) {
                return new Result(p, curve, false, "step " + (step + 1) + ": " + e.getMessage() + "; keeping the vectors of step " + step, secs(t0), totalTokens);
            }
            boolean finite = Double.isFinite(loss);
            for (int i = 0; i < grad.length && finite; i++) finite = Double.isFinite(grad[i]);
            if (!finite) {
                return new Result(p, curve, false, "step " + (step + 1) + ": the loss or its gradient is not finite (loss " + loss
                        + "); keeping the vectors of step " + step, secs(t0), totalTokens);
            }
            double lr = opt.learningRate(step);
            // a GRPO step where every group had equal rewards has no gradient: no update (Adam's momentum would
            // otherwise keep moving the vectors on no evidence)
            double gnorm = sd.groupsWithSignal == 0 ? 0 : opt.step(p.theta, grad);
            totalTokens += sd.tokens;
            double dtSec = (System.nanoTime() - s0) / 1e9, el = secs(t0);
            curve.add(new Curve.Point(step + 1, loss, sd.meanReward, gnorm, lr, totalTokens, el));
            double eta = el / (step + 1) * (cfg.steps - step - 1);
            log.accept(String.format(Locale.ROOT, "step %d/%d  loss %.4f%s  |g| %.3g  lr %.3g  %.0f tok/s  elapsed %s  ETA %s",
                    step + 1, cfg.steps, loss, Double.isNaN(sd.meanReward) ? "" : String.format(Locale.ROOT, "  reward %.3f  len %.1f  groups %d/%d",
                            sd.meanReward, sd.meanSampleTokens, sd.groupsWithSignal, sd.rows.size()),
                    gnorm, lr, sd.tokens / dtSec, hms(el), hms(eta)));
        }
        return new Result(p, curve, true, "done", secs(t0), totalTokens);
    }

    /**
     * Times one training step's forward+backward (float64) against one forward pass of the engine (float32, no
     * steering) over the same sequences in one batch; returns {engine seconds, training forward seconds, training
     * forward+backward seconds, token rows, then the same three as CPU seconds of the calling thread}, each the best of
     * {@code reps}. With one worker thread all the work runs on the calling thread, so its CPU time is the whole cost
     * and, unlike wall time, does not grow when other processes take the cores.
     */
    public double[] profile(List<TrainData.Row> data, SteeringParams p, int reps) {
        List<TrainData.Row> batch = data.subList(0, Math.min(cfg.batch, data.size()));
        StepData sd = prepare(batch, p, 0);
        var c = model.config();
        int rows = 0;
        for (var s : sd.seqs) rows += s.tokens().length;
        double engine = Double.MAX_VALUE, fwd = Double.MAX_VALUE, step = Double.MAX_VALUE;
        double engineCpu = Double.MAX_VALUE, fwdCpu = Double.MAX_VALUE, stepCpu = Double.MAX_VALUE;
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        for (int r = 0; r < reps; r++) {
            dev.tiller.engine.model.Batch b = new dev.tiller.engine.model.Batch(rows);
            int sid = 0, wanted = 0;
            for (var s : sd.seqs) {
                dev.tiller.engine.model.KVCache kv = new dev.tiller.engine.model.KVCache(c, s.tokens().length);
                for (int t = 0; t < s.tokens().length; t++) {
                    b.add(s.tokens()[t], t, kv, sid, s.wantLogits()[t]);
                    if (s.wantLogits()[t]) wanted++;
                }
                sid++;
            }
            float[] logits = new float[Math.max(1, wanted) * c.vocabSize()];
            long t0 = System.nanoTime(), c0 = mx.getCurrentThreadCpuTime();
            model.forwardPass().forward(b, dev.tiller.engine.hooks.Hooks.NONE, logits);
            engine = Math.min(engine, (System.nanoTime() - t0) / 1e9);
            engineCpu = Math.min(engineCpu, (mx.getCurrentThreadCpuTime() - c0) / 1e9);
            t0 = System.nanoTime();
            c0 = mx.getCurrentThreadCpuTime();
            dt.forward(sd.seqs, p, null).close();
            fwd = Math.min(fwd, (System.nanoTime() - t0) / 1e9);
            fwdCpu = Math.min(fwdCpu, (mx.getCurrentThreadCpuTime() - c0) / 1e9);
            t0 = System.nanoTime();
            c0 = mx.getCurrentThreadCpuTime();
            lossAndGrad(sd, p, new double[1][]);
            step = Math.min(step, (System.nanoTime() - t0) / 1e9);
            stepCpu = Math.min(stepCpu, (mx.getCurrentThreadCpuTime() - c0) / 1e9);
        }
        return new double[]{engine, fwd, step, rows, engineCpu, fwdCpu, stepCpu};
    }

    private static double secs(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    static String hms(double s) {
        long x = Math.round(s);
        return x >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", x / 3600, x / 60 % 60, x % 60) : String.format(Locale.ROOT, "%d:%02d", x / 60, x % 60);
    }

    private void checkRows(List<TrainData.Row> data) {
        if (cfg.objective == Objective.CE) {
            for (TrainData.Row r : data) {
                if (r.completion() == null || r.completion().isEmpty()) {
                    throw new IllegalArgumentException("row " + (r.index() + 1) + " has no completion/answer, which --objective ce needs");
                }
            }
        }
    }

    static final class RewardException extends RuntimeException {
        RewardException(String m, Throwable cause) {
            super(m, cause);
        }
    }

    // ---- building the step's sequences ----

    private StepData prepare(List<TrainData.Row> batch, SteeringParams p, int step) {
        List<DiffTransformer.Sequence> seqs = new ArrayList<>();
        List<Integer> targets = new ArrayList<>();
        List<Double> weights = new ArrayList<>();
        long tokens = 0;
        double rewardSum = 0;
        int rewardCount = 0, groupsWithSignal = 0;
        long sampleTokens = 0;
        switch (cfg.objective) {
            case CE -> {
                for (TrainData.Row r : batch) {
                    int[] prompt = tok.encode(r.prompt(), true, false);
                    int[] full = tok.encode(r.prompt() + r.completion(), true, false);
                    int start = commonPrefix(prompt, full);
                    if (start == 0) start = 1;
                    int[] seq = java.util.Arrays.copyOf(full, full.length + 1);
                    seq[full.length] = tok.eosId();
                    addSequence(seqs, targets, weights, seq, start, 1.0);
                    tokens += seq.length + p.prefixLength;
                }
            }
            case ENTROPY -> {
                List<int[]> prompts = new ArrayList<>();
                for (TrainData.Row r : batch) prompts.add(tok.encode(r.prompt(), true, false));
                List<Sample> samples = samples(batch, prompts, 1, p, k -> step * 1000L + k);
                for (int i = 0; i < batch.size(); i++) {
                    Sample g = samples.get(i);
                    if (g.tokens().length == 0) continue;
                    int[] seq = concat(prompts.get(i), g.tokens());
                    addSequence(seqs, targets, weights, seq, prompts.get(i).length, 1.0);
                    tokens += seq.length + p.prefixLength;
                }
            }
            case GRPO -> {
                List<int[]> prompts = new ArrayList<>();
                for (TrainData.Row r : batch) prompts.add(tok.encode(r.prompt(), true, false));
                List<Sample> samples = samples(batch, prompts, cfg.group, p, k -> step * 100_000L + k);
                for (int i = 0; i < batch.size(); i++) {
                    TrainData.Row r = batch.get(i);
                    int[] prompt = prompts.get(i);
                    int[][] outs = new int[cfg.group][];
                    double[] rw = new double[cfg.group];
                    for (int gi = 0; gi < cfg.group; gi++) {
                        Sample g = samples.get(i * cfg.group + gi);
                        outs[gi] = g.tokens();
                        int len = g.tokens().length;
                        double score;
                        try {
                            score = reward.score(g.text(), len, r);
                        } catch (RuntimeException e) {
                            throw new RewardException("the reward failed on row " + (r.index() + 1) + ": " + e.getMessage(), e);
                        }
                        if (!Double.isFinite(score)) throw new RewardException("the reward returned " + score + " on row " + (r.index() + 1), null);
                        if (cfg.lengthPenalty > 0) score -= cfg.lengthPenalty * Math.max(0, len - cfg.targetLength);
                        rw[gi] = score;
                        rewardSum += score;
                        rewardCount++;
                        sampleTokens += len;
                    }
                    if (addGroup(seqs, targets, weights, prompt, outs, rw, cfg.stdNormalize)) {
                        groupsWithSignal++;
                        for (int[] o : outs) tokens += prompt.length + o.length + p.prefixLength;
                    }
                }
            }
            case CONTRASTIVE -> {
                for (TrainData.Row r : batch) {
                    int[] prompt = tok.encode(r.prompt(), true, false);
                    seqs.add(new DiffTransformer.Sequence(prompt, new boolean[prompt.length]));
                    tokens += prompt.length + p.prefixLength;
                }
            }
        }
        int[] t = new int[targets.size()];
        double[] w = new double[weights.size()];
        for (int i = 0; i < t.length; i++) {
            t[i] = targets.get(i);
            w[i] = weights.get(i);
        }
        return new StepData(seqs, t, w, rewardCount == 0 ? Double.NaN : rewardSum / rewardCount, tokens, batch,
                cfg.objective == Objective.GRPO ? groupsWithSignal : -1, rewardCount == 0 ? Double.NaN : sampleTokens / (double) rewardCount);
    }

    /** A sampled continuation: its text and token ids (with the end-of-generation token when one ended it). */
    record Sample(String text, int[] tokens) {}

    /** The steering spec under which {@link #samples} hands the current bias vectors to the batch engine. */
    private static final String CURRENT_VECTORS = "tiller-train:current-vectors";

    /**
     * {@code n} samples of the steered model for each prompt, in prompt order (prompt i's at i·n .. i·n+n−1), sample k
     * drawn with the sampler seeded by {@code salt(k)} at the run's temperature, stop strings and token limit.
     *
     * <p>Every prompt × sample decodes together in one batch ({@link BatchEngine}: one forward pass per step for all
     * rows, which on a CUDA model is the batched device decode with the bias vectors added on the device and the tokens
     * drawn there); prefix vectors go before each prompt as the batch engine's prefix rows. The prompt tokens are the
     * trainer's own, so the loss scores exactly the sequences that were sampled.
     */
    List<Sample> samples(List<TrainData.Row> rows, List<int[]> prompts, int n, SteeringParams p, java.util.function.LongUnaryOperator salt) {
        List<Sample> out = new ArrayList<>();
        Map<String, int[]> promptOf = new HashMap<>();
        List<BatchRequest> requests = new ArrayList<>();
        int longest = 0;
        for (int i = 0; i < rows.size(); i++) {
            longest = Math.max(longest, prompts.get(i).length);
            for (int g = 0; g < n; g++) {
                String id = i + "/" + g;
                promptOf.put(id, prompts.get(i));
                requests.add(BatchRequest.ofPrompt(id, rows.get(i).prompt()).withSeed(sampling(salt.applyAsLong((long) i * n + g)).sampler().seed())
                        .withMaxTokens(cfg.maxNewTokens).withStop(cfg.stop).withSteer(List.of(CURRENT_VECTORS)));
            }
        }
        int ctx = Math.min(model.config().contextLength(), p.prefixLength + longest + cfg.maxNewTokens + 1);
        BatchEngine.Options o = BatchEngine.Options.defaults(ctx).withMaxConcurrent(Math.min(requests.size(), MAX_ROLLOUTS_AT_ONCE))
                .withSampler(sampling(0).sampler()).withMaxTokens(cfg.maxNewTokens);
        RowSteering current = currentVectors(p);
        BatchEngine engine = new BatchEngine(model, o).withPromptTokens(r -> promptOf.get(r.id()))
                .addResolver((spec, m) -> spec.equals(CURRENT_VECTORS) ? current : null);
        for (BatchResult r : engine.runAll(requests)) {
            if (r.isError()) throw new IllegalStateException("sampling failed for prompt " + r.id() + ": " + r.error());
            out.add(new Sample(r.text(), r.tokens()));
        }
        return out;
    }

    /** Sequences decoding together in a rollout batch (a GRPO step of 8 prompts × 8 samples is one batch). */
    static final int MAX_ROLLOUTS_AT_ONCE = 64;

    /**
     * The bias vectors as per-row adds at their hook points, and the prefix vectors before the prompt, as
     * {@link SteeringParams#install} and {@link SteeringParams#withPlaceholders} apply them to a session.
     */
    private static RowSteering currentVectors(SteeringParams p) {
        Map<HookPoint, List<RowHook>> hooks = new java.util.LinkedHashMap<>();
        for (int i = 0; i < p.layers.length; i++) {
            hooks.computeIfAbsent(new HookPoint(p.site, p.layers[i]), k -> new ArrayList<>()).add(RowSteering.addVector(p.bias(i), 1f));
        }
        RowSteering biases = new RowSteering(hooks);
        if (p.prefixLength == 0) return biases;
        float[][] pre = new float[p.prefixLength][];
        for (int k = 0; k < pre.length; k++) pre[k] = p.prefix(k);
        return RowSteering.combine(List.of(biases, RowSteering.prefixVectors(pre)));
    }

    /**
     * GRPO advantages of one group: (r − mean) / std over the group's rewards, or null when the rewards are all equal
     * (std below 1e-9): such a group carries no signal and is skipped — it adds no rows, so it neither dilutes the
     * per-token normalization nor costs a backward pass.
     */
    static double[] groupAdvantages(double[] rw) {
        return groupAdvantages(rw, true);
    }

    /** As {@link #groupAdvantages(double[])}; with {@code std} false the advantages are r − mean, not divided by std. */
    static double[] groupAdvantages(double[] rw, boolean std) {
        double mean = 0, var = 0;
        for (double v : rw) mean += v;
        mean /= rw.length;
        for (double v : rw) var += (v - mean) * (v - mean);
        double sd = Math.sqrt(var / rw.length);
        if (!(sd > 1e-9)) return null;
        double[] a = new double[rw.length];
        double div = std ? sd : 1;
        for (int i = 0; i < rw.length; i++) a[i] = (rw[i] - mean) / div;
        return a;
    }

    /**
     * Adds one GRPO group: each sample's sequence (prompt + sampled tokens), one loss row per sampled token with the
     * sample's advantage as its weight. The loss over the step is −Σ A_i · log π_θ(token) / (tokens of kept groups):
     * minimizing it raises the log-probability, under the steered model, of the tokens of above-average samples.
     * Returns false (and adds nothing) for a group without reward variance.
     */
    static boolean addGroup(List<DiffTransformer.Sequence> seqs, List<Integer> targets, List<Double> weights, int[] prompt, int[][] outs, double[] rw) {
        return addGroup(seqs, targets, weights, prompt, outs, rw, true);
    }

    static boolean addGroup(List<DiffTransformer.Sequence> seqs, List<Integer> targets, List<Double> weights, int[] prompt, int[][] outs, double[] rw,
                            boolean std) {
        double[] adv = groupAdvantages(rw, std);
        if (adv == null) return false;
        for (int gi = 0; gi < outs.length; gi++) {
            if (outs[gi].length == 0) continue;
            addSequence(seqs, targets, weights, concat(prompt, outs[gi]), prompt.length, adv[gi]);
        }
        return true;
    }

    private GenerationOptions sampling(long salt) {
        SamplerConfig sc = new SamplerConfig(cfg.temperature, 0, 1f, 0f, 1f, 0, 0f, 0f, cfg.seed * 7919 + salt);
        return new GenerationOptions(sc, cfg.maxNewTokens, cfg.stop, true, false, false);
    }

    /** Rows start-1 .. len-2 predict tokens start .. len-1. */
    private static void addSequence(List<DiffTransformer.Sequence> seqs, List<Integer> targets, List<Double> weights, int[] seq, int start, double w) {
        boolean[] want = new boolean[seq.length];
        for (int i = start; i < seq.length; i++) {
            want[i - 1] = true;
            targets.add(seq[i]);
            weights.add(w);
        }
        seqs.add(new DiffTransformer.Sequence(seq, want));
    }

    private static int commonPrefix(int[] a, int[] b) {
        int i = 0;
        while (i < a.length && i < b.length && a[i] == b[i]) i++;
        return i;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    // ---- losses ----

    double lossAndGrad(StepData sd, SteeringParams p, double[][] gradOut) {
        int V = model.config().vocabSize();
        if (sd.seqs.isEmpty()) {
            gradOut[0] = new double[p.size()];
            return 0;
        }
        HookPoint read = cfg.objective == Objective.CONTRASTIVE ? readPoint() : null;
        try (DiffTransformer.Pass pass = dt.forward(sd.seqs, p, read)) {
            return lossAndGrad(sd, p, pass, gradOut);
        }
    }

    private double lossAndGrad(StepData sd, SteeringParams p, DiffTransformer.Pass pass, double[][] gradOut) {
        int V = model.config().vocabSize();
        int rows = sd.targets.length;
        DiffOps ops = dt.ops();
        // dLoss/dLogits stays where the logits are (on a GPU, rows x 152k floats)
        DiffOps.Buf dLogits = ops.zeros((long) pass.logitRows() * V);
        try {
            double loss = 0;
            double[] dRead = null;
            switch (cfg.objective) {
                case CE -> loss = Losses.weightedNll(ops, pass.logitsBuffer(), sd.targets, null, rows, V, rows, dLogits);
                case ENTROPY -> loss = Losses.meanEntropy(ops, pass.logitsBuffer(), rows, V, dLogits);
                case GRPO -> loss = policyLoss(dt, sd, p, pass, cfg.klBeta, dLogits);
                case CONTRASTIVE -> {
                    dRead = new double[pass.readActs.length];
                    loss = contrastiveLoss(sd, pass, dRead);
                }
            }
            gradOut[0] = dt.backward(pass, dLogits, dRead);
            return loss;
        } finally {
            ops.release(dLogits);
        }
    }

    /**
     * The GRPO loss on a step's rows, adding dLoss/dLogits (where the backend holds the logits): −Σ_rows A · log
     * π_θ(sampled token) / rows (the rows are the sampled tokens of the kept groups, each weighted by its sample's
     * advantage), plus, with β > 0, β times the mean k3 estimate of KL(π_θ ‖ π_ref) on the same tokens, π_ref the
     * unsteered model.
     */
    static double policyLoss(DiffTransformer dt, StepData sd, SteeringParams p, DiffTransformer.Pass pass, double klBeta, DiffOps.Buf dLogits) {
        int V = dt.config().vocabSize(), rows = sd.targets.length;
        DiffOps ops = dt.ops();
        double loss = Losses.weightedNll(ops, pass.logitsBuffer(), sd.targets, sd.weights, rows, V, Math.max(1, rows), dLogits);
        if (klBeta > 0) {
            double[] refLp;
            try (DiffTransformer.Pass ref = dt.forward(sd.seqs, new SteeringParams(p.dim, dt.config().layers(), null, new int[0], 0), null)) {
                refLp = ops.logProbs(ref.logitsBuffer(), rows, V, sd.targets);
            }
            loss += Losses.k3Kl(ops, pass.logitsBuffer(), sd.targets, refLp, rows, V, klBeta, dLogits);
        }
        return loss;
    }

    HookPoint readPoint() {
        return cfg.read != null ? HookPoint.parse(cfg.read) : new HookPoint(HookSite.RESID_POST, model.config().layers() - 1);
    }

    static final double CONTRAST_BETA = 4, CONTRAST_PULL = 0.5;

    /**
     * For each prompt, h = the steered activation at the read point at the prompt's last token, h_s / h_w = the
     * unsteered activations for the strong / weak prompt. With D = |h_s − h_w|², d_s = |h − h_s|², d_w = |h − h_w|²,
     * margin m = (d_w − d_s) / D (+1 at the strong reference, −1 at the weak): loss = softplus(−β m) + λ d_s / D,
     * averaged over prompts: push past the weak side along their difference and pull toward the strong point.
     */
    private double contrastiveLoss(StepData sd, DiffTransformer.Pass pass, double[] dRead) {
        int dim = model.config().dim();
        double total = 0;
        int B = sd.rows.size();
        for (int s = 0; s < B; s++) {
            TrainData.Row rowData = sd.rows.get(s);
            double[][] ref = contrastRefs.computeIfAbsent(rowData.index(), i -> references(rowData));
            double[] hs = ref[0], hw = ref[1];
            int row = pass.row(s, pass.sequenceLength(s) - 1), o = row * dim;
            double D = 1e-9, ds = 0, dw = 0;
            for (int i = 0; i < dim; i++) {
                double h = pass.readActs[o + i];
                D += (hs[i] - hw[i]) * (hs[i] - hw[i]);
                ds += (h - hs[i]) * (h - hs[i]);
                dw += (h - hw[i]) * (h - hw[i]);
            }
            double m = (dw - ds) / D;
            double z = -CONTRAST_BETA * m;
            total += softplus(z) + CONTRAST_PULL * ds / D;
            double dLdm = -CONTRAST_BETA * DiffTransformer.sigmoid(z);
            for (int i = 0; i < dim; i++) {
                double h = pass.readActs[o + i];
                double dm = (2 * (h - hw[i]) - 2 * (h - hs[i])) / D;
                dRead[o + i] += (dLdm * dm + CONTRAST_PULL * 2 * (h - hs[i]) / D) / B;
            }
        }
        return total / B;
    }

    static double softplus(double z) {
        return z > 30 ? z : Math.log1p(Math.exp(z));
    }

    /** Unsteered activations at the read point for the strong and the weak version of a row's prompt. */
    private double[][] references(TrainData.Row r) {
        String strong = r.question() != null ? cfg.template.replace("{question}", r.question() + cfg.strongSuffix) : r.prompt() + cfg.strongSuffix;
        String weak = r.question() != null ? cfg.template.replace("{question}", r.question() + cfg.weakSuffix) : r.prompt() + cfg.weakSuffix;
        SteeringParams none = new SteeringParams(model.config().dim(), model.config().layers(), null, new int[0], 0);
        double[][] out = new double[2][];
        String[] prompts = {strong, weak};
        for (int i = 0; i < 2; i++) {
            int[] t = tok.encode(prompts[i], true, false);
            try (DiffTransformer.Pass ps = dt.forward(List.of(new DiffTransformer.Sequence(t, new boolean[t.length])), none, readPoint())) {
                int dim = model.config().dim();
                out[i] = java.util.Arrays.copyOfRange(ps.readActs, (t.length - 1) * dim, t.length * dim);
            }
        }
        return out;
    }
}
