package dev.tiller.steering.cli;

import dev.tiller.cli.ModelOptions;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.steering.Escapes;
import dev.tiller.steering.train.*;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code tiller train --objective ce|entropy|grpo|contrastive -m MODEL --data FILE.jsonl -o OUT.steer}: trains steering
 * vectors on the frozen model, writes them (with the training configuration and final metrics), the loss/reward curve
 * as OUT.csv and OUT.png, and optionally evaluates greedy accuracy before and after on held-out rows.
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Train steering vectors (per-layer biases and/or prefix vectors) by backprop through the frozen model.")
public final class TrainCommand implements Callable<Integer> {
    @Mixin ModelOptions model;

    @Option(names = "--objective", defaultValue = "ce", description = "ce, entropy, grpo or contrastive (default: ${DEFAULT-VALUE})")
    String objective;
    @Option(names = "--data", required = true, paramLabel = "FILE.jsonl", description = "rows: prompt + completion, or question + answer")
    Path data;
    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.steer") Path output;
    @Option(names = "--limit", defaultValue = "0", description = "use the first N rows (0: all)") int limit;
    @Option(names = "--prompt-template", defaultValue = "Q: {question}\\nA:", description = "for question rows (default: ${DEFAULT-VALUE})")
    String template;
    @Option(names = "--site", defaultValue = "resid_post", description = "bias site: embed, resid_pre, attn_out, resid_mid, mlp_out, resid_post, or none")
    String site;
    @Option(names = "--layers", defaultValue = "all", description = "steered blocks: all, or a list like 0,1,2") String layers;
    @Option(names = "--prefix", defaultValue = "0", description = "number of trainable prefix vectors at hook_embed") int prefix;
    @Option(names = "--prefix-init", paramLabel = "TEXT", description = "prefix vectors start as the embeddings of this text's tokens, cycled (default: BOS; special tokens like </s> are read)")
    String prefixInit;
    @Option(names = "--steps", description = "optimizer steps (default: 60; entropy/contrastive 30)") Integer steps;
    @Option(names = "--batch", description = "prompts per step (default: 32; grpo 8; entropy 16)") Integer batch;
    @Option(names = "--lr", description = "Adam learning rate (default: 0.05; grpo 0.02)") Double lr;
    @Option(names = "--weight-decay", defaultValue = "0", description = "AdamW decoupled weight decay") double weightDecay;
    @Option(names = "--clip", description = "clip the gradient's global norm (0: off; default: grpo 1, else 0)") Double clip;
    @Option(names = "--warmup", defaultValue = "0", description = "linear warm-up steps") int warmup;
    @Option(names = "--cosine", description = "cosine-decay the learning rate to 10%%") boolean cosine;
    @Option(names = "--seed", defaultValue = "1") long seed;
    @Option(names = "--max-new", defaultValue = "64", description = "tokens generated per sample (entropy, grpo, eval)") int maxNew;
    @Option(names = "--stop", paramLabel = "STR", description = "end sampled generations (entropy, grpo) and the evaluation's at this string, e.g. '.' (repeatable; \\n for a newline)")
    List<String> stop = new java.util.ArrayList<>();
    @Option(names = "--group", defaultValue = "8", description = "grpo: samples per prompt") int group;
    @Option(names = "--temp", defaultValue = "1.0", description = "sampling temperature of entropy/grpo generations") float temp;
    @Option(names = "--kl", description = "grpo: weight of the k3 KL to the unsteered model (default: 0.01)") Double kl;
    @Option(names = "--advantage", defaultValue = "std", description = "grpo: std ((r - mean)/std, GRPO) or center (r - mean, keeps the reward's scale)")
    String advantage;
    @Option(names = "--reward", defaultValue = "answer", description = "grpo: answer, contains:WORD, maxlen:L, length:L, joined by +") String reward;
    @Option(names = "--length-penalty", defaultValue = "0", description = "grpo: reward -= this * max(0, tokens - target-length)") double lengthPenalty;
    @Option(names = "--target-length", defaultValue = "0", description = "grpo: length level for --length-penalty") int targetLength;
    @Option(names = "--strong-suffix", defaultValue = " Think step by step.", description = "contrastive: appended to the question for the strong reference") String strongSuffix;
    @Option(names = "--weak-suffix", defaultValue = "", description = "contrastive: for the weak reference") String weakSuffix;
    @Option(names = "--read", description = "contrastive: read point (default: the last block's hook_resid_post)") String read;
    @Option(names = "--init", paramLabel = "FILE.steer", description = "start from these trained vectors (same site, layers and prefix) instead of zero")
    Path init;
    @Option(names = "--eval", paramLabel = "FILE.jsonl", description = "greedy-evaluate on these rows before and after training") Path eval;
    @Option(names = "--eval-limit", defaultValue = "200") int evalLimit;
    @Option(names = "--precision", defaultValue = "mixed", paramLabel = "mixed|float64",
            description = "CPU: products with the weights in float32, the rest in float64 (mixed, default; about twice as fast), or everything in float64 (the reference). The GPU trains in float32.")
    String precision;
    @Option(names = "--checkpoint", defaultValue = "auto", paramLabel = "auto|on|off",
            description = "drop each block's activations after the forward and recompute them in the backward (on), never (off), or when keeping them would take over half the free memory (auto, default)")
    String checkpoint;
    @Option(names = "--profile", description = "only time one training step against one engine forward on the first batch, then exit")
    boolean profile;
    @Option(names = "--profile-reps", defaultValue = "3", description = "--profile: repetitions; each time reported is the best of them")
    int profileReps;

    @Override
    public Integer call() {
        String tmpl = Escapes.unescape(template);
        Trainer.Config c = new Trainer.Config();
        c.objective = switch (objective.toLowerCase(Locale.ROOT)) {
            case "ce" -> Trainer.Objective.CE;
            case "entropy" -> Trainer.Objective.ENTROPY;
            case "grpo", "rloo", "rl" -> Trainer.Objective.GRPO;
            case "contrastive" -> Trainer.Objective.CONTRASTIVE;
            default -> throw new IllegalArgumentException("--objective must be ce, entropy, grpo or contrastive, got '" + objective + "'");
        };
        c.site = parseSite(site);
        if (c.site == null && prefix == 0) throw new IllegalArgumentException("--site none needs --prefix K > 0: nothing to train");
        if (profileReps < 1) throw new IllegalArgumentException("--profile-reps must be at least 1, got " + profileReps);
        c.prefix = prefix;
        c.prefixInit = prefixInit == null ? null : Escapes.unescape(prefixInit);
        // defaults per objective: for grpo the settings of the best documented arith-mini runs (docs/results/training-runs.md)
        c.steps = steps != null ? steps : switch (c.objective) { case CE, GRPO -> 60; default -> 30; };
        c.batch = batch != null ? batch : switch (c.objective) { case CE, CONTRASTIVE -> 32; case GRPO -> 8; default -> 16; };
        c.lr = lr != null ? lr : c.objective == Trainer.Objective.GRPO ? 0.02 : 0.05;
        if (c.steps < 1 || c.batch < 1 || !(c.lr > 0)) throw new IllegalArgumentException("--steps, --batch and --lr must be positive");
        c.weightDecay = weightDecay;
        c.clip = clip != null ? clip : c.objective == Trainer.Objective.GRPO ? 1 : 0;
        if (c.clip < 0) throw new IllegalArgumentException("--clip must be >= 0, got " + c.clip);
        c.warmup = warmup;
        c.cosine = cosine;
        c.seed = seed;
        c.maxNewTokens = maxNew;
        c.group = group;
        if (group < 2 && c.objective == Trainer.Objective.GRPO) throw new IllegalArgumentException("--group must be >= 2 for grpo");
        c.temperature = temp;
        c.klBeta = kl != null ? kl : c.objective == Trainer.Objective.GRPO ? 0.01 : 0;
        if (c.klBeta < 0) throw new IllegalArgumentException("--kl must be >= 0, got " + c.klBeta);
        c.stdNormalize = switch (advantage) {
            case "std" -> true;
            case "center" -> false;
            default -> throw new IllegalArgumentException("--advantage must be std or center, got '" + advantage + "'");
        };
        c.reward = reward;
        c.lengthPenalty = lengthPenalty;
        c.targetLength = targetLength;
        c.strongSuffix = strongSuffix;
        c.weakSuffix = weakSuffix;
        c.read = read;
        c.template = tmpl;
        c.stop = stop.stream().map(Escapes::unescape).toList();
        c.exact = switch (precision.toLowerCase(Locale.ROOT)) {
            case "mixed" -> false;
            case "float64" -> true;
            default -> throw new IllegalArgumentException("--precision must be mixed or float64, got '" + precision + "'");
        };

        List<TrainData.Row> rows = TrainData.read(data, tmpl, limit);
        try (Model m = model.load()) {
            if (!layers.equals("all")) {
                String[] parts = layers.split(",");
                c.layers = new int[parts.length];
                for (int i = 0; i < parts.length; i++) c.layers[i] = Integer.parseInt(parts[i].trim());
            }
            if (c.objective == Trainer.Objective.GRPO) Rewards.parse(c.reward);   // reject a bad spec before any work
            DiffTransformer.Checkpointing mode = switch (checkpoint.toLowerCase(Locale.ROOT)) {
                case "auto" -> DiffTransformer.Checkpointing.AUTO;
                case "on" -> DiffTransformer.Checkpointing.ON;
                case "off" -> DiffTransformer.Checkpointing.OFF;
                default -> throw new IllegalArgumentException("--checkpoint must be auto, on or off, got '" + checkpoint + "'");
            };
            try (Trainer trainer = new Trainer(m, c)) {
                trainer.diff().checkpointing(mode);
                return run(m, trainer, c, rows);
            }
        }
    }

    private int run(Model m, Trainer trainer, Trainer.Config c, List<TrainData.Row> rows) {
        SteeringParams p = trainer.newParams();
        if (init != null) {
            SteeringParams from = SteeringStore.load(init, m).params();
            if (from.theta.length != p.theta.length || from.prefixLength != p.prefixLength || from.site != p.site || !java.util.Arrays.equals(from.layers, p.layers)) {
                throw new IllegalArgumentException("--init " + init + " has " + from.theta.length + " numbers (" + from.prefixLength
                        + " prefix vectors); this run trains " + p.theta.length + " (" + p.prefixLength + ")");
            }
            System.arraycopy(from.theta, 0, p.theta, 0, p.theta.length);
        }
        DiffTransformer dt = trainer.diff();
        boolean gpu = m.device() == dev.tiller.engine.api.Device.CUDA;
        int bytesPer = gpu ? 4 : 8;
        System.err.printf(Locale.ROOT, "train: %s on %s, %d rows; %d trainable numbers (%s%s); forward and backward on %s; kept for backward: %d numbers = %.1f KiB per token%n",
                c.objective.name().toLowerCase(Locale.ROOT), m.path().getFileName(), rows.size(), p.size(),
                c.site == null ? "" : p.layers.length + " × " + m.config().dim() + " at " + c.site.suffix,
                prefix > 0 ? (c.site == null ? "" : " + ") + prefix + " prefix vectors" : "",
                dt.ops().describe(), dt.savedDoublesPerToken(), dt.savedDoublesPerToken() * bytesPer / 1024.0);
        long perRow = dt.savedDoublesPerToken() * dt.ops().bytesPerNumber();
        System.err.printf(Locale.ROOT, "checkpointing %s (%s; with it %.1f KiB per token)%n", checkpoint.toLowerCase(Locale.ROOT),
                checkpoint.equalsIgnoreCase("auto") ? "on for passes over " + Math.max(1, dt.ops().availableBytes() / 2 / perRow) + " token rows" : "every pass",
                dt.checkpointedNumbersPerToken() * dt.ops().bytesPerNumber() / 1024.0);
        if (profile) {
            double[] t = trainer.profile(rows, p, profileReps);
            System.err.printf(Locale.ROOT, "profile: %d token rows; engine forward (float32) %.3f s; training forward (%s) %.3f s;"
                    + " training step (forward + backward) %.3f s = %.2f x the engine forward, %.2f x the training forward%n",
                    (int) t[3], t[0], dt.ops().describe(), t[1], t[2], t[2] / t[0], t[2] / t[1]);
            printPeak(dt);
            if (dev.tiller.kernels.Parallel.threads() == 1) {
                System.err.printf(Locale.ROOT, "profile (CPU time, one thread): engine forward %.3f s; training forward %.3f s; training step %.3f s"
                        + " = %.2f x the engine forward, %.2f x the training forward%n", t[4], t[5], t[6], t[6] / t[4], t[6] / t[5]);
            }
            return 0;
        }
        List<TrainData.Row> evalRows = eval == null ? null : TrainData.read(eval, c.template, evalLimit);
        Rewards.Reward evalReward = c.objective == Trainer.Objective.GRPO ? Rewards.parse(c.reward) : null;
        String before = null;
        if (evalRows != null) {
            SteeredEvaluator.Result r = SteeredEvaluator.evaluate(m, null, evalRows, maxNew, c.stop, evalReward);
            before = r.toString();
            System.err.println("eval before: " + before);
        }
        Trainer.Result res = trainer.train(rows, p, System.err::println);
        printPeak(dt);
        String after = null;
        if (evalRows != null && res.completed()) {
            SteeredEvaluator.Result r = SteeredEvaluator.evaluate(m, res.params(), evalRows, maxNew, c.stop, evalReward);
            after = r.toString();
            System.err.println("eval after:  " + after);
        }
        var pts = res.curve().points();
        double lastLoss = pts.isEmpty() ? Double.NaN : pts.get(pts.size() - 1).loss();
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("completed", res.completed());
        metrics.put("steps", pts.size());
        metrics.put("final_loss", Double.isFinite(lastLoss) ? lastLoss : null);
        metrics.put("seconds", Math.round(res.seconds() * 10) / 10.0);
        metrics.put("tokens", res.tokens());
        if (before != null) metrics.put("eval_before", before);
        if (after != null) metrics.put("eval_after", after);
        SteeringStore.save(output, res.params(), c.toJson(), Trainer.json(metrics), m);
        String base = output.getFileName().toString().replaceFirst("\\.steer$", "");
        Path csv = output.resolveSibling(base + ".csv"), png = output.resolveSibling(base + ".png");
        res.curve().writeCsv(csv);
        LinePlot.curve(png, "tiller train --objective " + objective + " on " + m.path().getFileName(), res.curve());
        System.err.println("wrote " + output + ", " + csv + ", " + png);
        if (!res.completed()) {
            System.err.println("error: " + res.message());
            return 1;
        }
        return 0;
    }

    /** On the GPU: the most device memory training held at once, besides the model's weights. */
    private static void printPeak(DiffTransformer dt) {
        long peak = dt.ops().peakBytes();
        if (peak >= 0) System.err.printf(Locale.ROOT, "peak GPU memory of training: %.1f MiB (activations, gradients and scratch; the weights not counted)%n", peak / 1048576.0);
    }

    static HookSite parseSite(String s) {
        String x = s.toLowerCase(Locale.ROOT).replaceFirst("^hook_", "");
        if (x.equals("none")) return null;
        for (HookSite h : SteeringParams.BIAS_SITES) if (h.suffix.equals("hook_" + x)) return h;
        throw new IllegalArgumentException("--site must be embed, resid_pre, attn_out, resid_mid, mlp_out, resid_post or none, got '" + s + "'");
    }
}
