package dev.tiller.engine.eval;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.batch.BatchEngine;
import dev.tiller.engine.batch.BatchRequest;
import dev.tiller.engine.batch.BatchResult;
import dev.tiller.engine.chat.ChatMessage;
import dev.tiller.engine.sampling.SamplerConfig;
import dev.tiller.engine.thinking.DecisionScaling;
import dev.tiller.engine.thinking.LogitsProcessor;
import dev.tiller.engine.thinking.ThinkingControl;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * GSM8K-style evaluation on the batch engine: each item's question goes into a prompt template (or a chat user
 * message), {@code samples} answers are generated (greedy when 1 and temperature 0), the final number of each is
 * extracted and the majority answer compared with the label.
 */
public final class Evaluator {

    /**
     * One experimental condition.
     *
     * @param decisionText  when set, the log-odds of the first token of this text at the first answer position are
     *                      scaled by {@code decisionScale} (e.g. {@code " ####"}: bare answer vs worked answer)
     */
    public record Setting(String name, List<String> steer, ThinkingControl thinking, String decisionText, double decisionScale) {
        public static Setting plain() {
            return new Setting("plain", List.of(), null, null, 1);
        }
    }

    /**
     * @param promptTemplate {@code {question}} is replaced by the question (ignored with {@code chat})
     */
    public record Config(String promptTemplate, boolean chat, String system, int samples, int maxTokens, SamplerConfig sampler,
                         long seed, int parallel, int contextSize, List<String> stop) {
        public static final String DEFAULT_TEMPLATE = "Q: {question}\nA:";
    }

    public record ItemResult(EvalItem item, List<BatchResult> answers, List<String> extracted, String voted, boolean correct) {}

    public record Report(Setting setting, int correct, int n, Wilson ci, double meanTokens, double workedShare, double meanThinking,
                         List<ItemResult> items, double seconds, long generatedTokens) {
        public double accuracy() {
            return n == 0 ? 0 : (double) correct / n;
        }
    }

    public static Report run(Model model, Config config, Setting setting, List<EvalItem> items) {
        List<BatchRequest> requests = new ArrayList<>();
        for (EvalItem it : items) {
            for (int s = 0; s < config.samples(); s++) {
                String id = it.index() + "#" + s;
                BatchRequest r;
                if (config.chat()) {
                    List<ChatMessage> msgs = new ArrayList<>();
                    if (config.system() != null) msgs.add(ChatMessage.system(config.system()));
                    msgs.add(ChatMessage.user(it.question()));
                    r = new BatchRequest(id, null, msgs, null, null, null, null, null, null, null, null, null, it.index() + 1);
                } else {
                    r = BatchRequest.ofPrompt(id, config.promptTemplate().replace("{question}", it.question())).withLine(it.index() + 1);
                }
                r = r.withStop(config.stop()).withSteer(setting.steer()).withThinking(setting.thinking())
                        .withSeed(BatchEngineSeeds.seed(config.seed(), it.index(), s));
                requests.add(r);
            }
        }
        BatchEngine.Options opts = new BatchEngine.Options(config.parallel(), 512, config.contextSize(), config.sampler(), config.seed(),
                config.maxTokens(), false);
        BatchEngine engine = new BatchEngine(model, opts);
        if (setting.decisionText() != null) {
            Map<String, DecisionScaling> byPrompt = new HashMap<>();
            engine.withProcessors(req -> {
                String context = req.prompt() != null ? req.prompt() : "";
                DecisionScaling proto = byPrompt.computeIfAbsent(context, c -> decisionFor(model, c, setting));
                return List.<LogitsProcessor>of(new DecisionScaling(proto.prefix(), proto.token(), setting.decisionScale(), 0));
            });
        }
        long t0 = System.nanoTime();
        Map<String, BatchResult> byId = new LinkedHashMap<>();
        long[] gen = {0};
        engine.run(requests, r -> {
            byId.put(r.id(), r);
            gen[0] += r.completionTokens();
        });
        double secs = (System.nanoTime() - t0) / 1e9;

        List<ItemResult> out = new ArrayList<>();
        int correct = 0, answers = 0, worked = 0;
        long tokens = 0, thinking = 0;
        for (EvalItem it : items) {
            List<BatchResult> rs = new ArrayList<>();
            List<String> ex = new ArrayList<>();
            for (int s = 0; s < config.samples(); s++) {
                BatchResult r = byId.get(it.index() + "#" + s);
                if (r.isError()) throw new IllegalArgumentException("item " + it.index() + ": " + r.error());
                rs.add(r);
                String text = visibleAnswer(r.text());
                ex.add(AnswerExtractor.finalNumber(text).orElse(null));
                answers++;
                tokens += r.completionTokens();
                thinking += r.thinkingTokens();
                if (AnswerExtractor.worked(text)) worked++;
            }
            String voted = majority(ex);
            boolean ok = voted != null && voted.equals(it.label());
            if (ok) correct++;
            out.add(new ItemResult(it, rs, ex, voted, ok));
        }
        int n = items.size();
        return new Report(setting, correct, n, Wilson.interval(correct, n, 1.96), answers == 0 ? 0 : (double) tokens / answers,
                answers == 0 ? 0 : (double) worked / answers, answers == 0 ? 0 : (double) thinking / answers, out, secs, gen[0]);
    }

    /**
     * The decision point of {@code setting.decisionText()} after a prompt: its continuation tokens, skipping leading
     * tokens that are only whitespace (shared by every answer), give the prefix and the deciding token.
     */
    static DecisionScaling decisionFor(Model model, String context, Setting setting) {
        int[] d = BatchEngine.continuationTokens(model.tokenizer(), context, setting.decisionText());
        int i = 0;
        while (i < d.length - 1 && model.tokenizer().decode(new int[]{d[i]}).isBlank()) i++;
        if (d.length == 0) throw new IllegalArgumentException("decision text '" + setting.decisionText() + "' adds no token");
        return new DecisionScaling(java.util.Arrays.copyOf(d, i), d[i], setting.decisionScale(), 0);
    }

    /** The answer after a closed thinking block (the whole text when there is none). */
    static String visibleAnswer(String text) {
        int close = text.lastIndexOf("</think>");
        return close >= 0 ? text.substring(close + "</think>".length()) : text;
    }

    /** The most frequent non-null answer; ties go to the one seen first. */
    static String majority(List<String> answers) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (String a : answers) if (a != null) counts.merge(a, 1, Integer::sum);
        String best = null;
        int bestCount = 0;
        for (var e : counts.entrySet()) {
            if (e.getValue() > bestCount) {
                best = e.getKey();
                bestCount = e.getValue();
            }
        }
        return best;
    }

    /** Seeds of eval samples: distinct per item and sample, reproducible from the run's seed. */
    static final class BatchEngineSeeds {
        static long seed(long base, int item, int sample) {
            long z = base * 0x9E3779B97F4A7C15L + item * 0xBF58476D1CE4E5B9L + sample * 0x94D049BB133111EBL + 1;
            z = (z ^ (z >>> 31)) * 0xD6E8FEB86659FD39L;
            return (z ^ (z >>> 29)) & Long.MAX_VALUE;
        }
    }

    private Evaluator() {}
}
