package dev.tiller.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.batch.BatchResult;
import dev.tiller.engine.eval.EvalItem;
import dev.tiller.engine.eval.Evaluator;
import dev.tiller.engine.sampling.SamplerConfig;
import dev.tiller.engine.thinking.ThinkingControl;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code tiller eval}: GSM8K-style accuracy of a model, with and without steering or thinking control. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Accuracy on GSM8K-format data (question / answer ending '#### N'): the final number of each answer is",
                "compared with the label. Prints 'accuracy C/N = X%' with a Wilson 95% interval; writes per-item results."})
public final class EvalCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "JSONL with question and answer")
    Path data;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "0", description = "first N items only (0 = all)")
    int limit;

    @Option(names = "--prompt-template", paramLabel = "TEXT", defaultValue = "Q: {question}\nA:",
            description = "prompt; {question} is replaced (default: 'Q: {question}\\nA:')")
    String template;

    @Option(names = "--chat", description = "ask the question as a chat user message (the model's template)")
    boolean chat;

    @Option(names = "--system", paramLabel = "TEXT", description = "system message with --chat")
    String system;

    @Option(names = {"-k", "--samples"}, paramLabel = "K", defaultValue = "1", description = "answers per question, majority vote (default: ${DEFAULT-VALUE})")
    int samples;

    @Option(names = "--temp", paramLabel = "T", description = "temperature (default: 0 = greedy with one sample, 0.8 with several)")
    Float temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "40")
    int topK;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "0.95")
    float topP;

    @Option(names = "--min-p", paramLabel = "P", defaultValue = "0.05")
    float minP;

    @Option(names = {"-s", "--seed"}, paramLabel = "N", defaultValue = "0")
    long seed;

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N", defaultValue = "256", description = "tokens per answer at most (default: ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = {"-P", "--parallel"}, paramLabel = "N", defaultValue = "16", description = "sequences decoding at once (default: ${DEFAULT-VALUE})")
    int parallel;

    @Option(names = "--stop", paramLabel = "TEXT", description = "stop strings (repeatable)")
    List<String> stop = new ArrayList<>();

    @Option(names = "--steer", paramLabel = "FILE[:S]", description = "steer every answer (llama.cpp control vector; repeatable)")
    List<String> steer = new ArrayList<>();

    @Option(names = "--baseline", description = "with --steer: also evaluate without steering")
    boolean baseline;

    @Option(names = "--decision", paramLabel = "TEXT", description = "scale the log-odds of the first token of TEXT at the first answer position (e.g. ' ####')")
    String decision;

    @Option(names = "--decision-scale", paramLabel = "S,S,...", split = ",", description = "scales for --decision (one setting each)")
    List<Double> decisionScales = new ArrayList<>();

    @Option(names = "--think-scale", paramLabel = "S,S,...", split = ",", description = "scale the log-odds of </think> while thinking (one setting each)")
    List<Double> thinkScales = new ArrayList<>();

    @Option(names = "--think-budget", paramLabel = "N", description = "force </think> after N thinking tokens (budget forcing)")
    Integer thinkBudget;

    @Option(names = "--think-min", paramLabel = "N", description = "replace an earlier </think> with --think-wait")
    Integer thinkMin;

    @Option(names = "--think-wait", paramLabel = "TEXT", description = "text that replaces an early </think> (default: Wait)")
    String thinkWait;

    @Option(names = "--think-open", description = "start every answer with <think> (for templates that do not open it)")
    boolean thinkOpen;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", defaultValue = "eval-results.jsonl", description = "per-item results (default: ${DEFAULT-VALUE})")
    Path output;

    @Override
    public Integer call() {
        if (samples < 1) throw new IllegalArgumentException("--samples must be >= 1");
        if (!chat && !template.contains("{question}")) throw new IllegalArgumentException("--prompt-template has no {question}");
        if (decision != null && decisionScales.isEmpty()) decisionScales.add(1.0);
        if (decision == null && !decisionScales.isEmpty()) throw new IllegalArgumentException("--decision-scale needs --decision TEXT");
        List<EvalItem> items = EvalItem.read(data, limit, w -> System.err.println("warning: " + w));
        if (items.isEmpty()) throw new IllegalArgumentException(data + ": no items");
        float temp = temperature != null ? temperature : samples > 1 ? 0.8f : 0f;
        SamplerConfig sc = SamplerConfig.defaults().withTemperature(temp).withTopK(topK).withTopP(topP).withMinP(minP);

        try (Model model = modelOptions.load()) {
            Evaluator.Config cfg = new Evaluator.Config(template, chat, system, samples, maxTokens, sc, seed, parallel,
                    modelOptions.contextFor(model), stop);
            List<Evaluator.Setting> settings = settings();
            List<Evaluator.Report> reports = new ArrayList<>();
            try (BufferedWriter out = Files.newBufferedWriter(output, StandardCharsets.UTF_8)) {
                for (Evaluator.Setting s : settings) {
                    Evaluator.Report r = Evaluator.run(model, cfg, s, items);
                    reports.add(r);
                    print(r, settings.size() > 1);
                    write(out, r);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("writing " + output + ": " + e.getMessage(), e);
            }
            if (settings.size() > 1) {
                System.out.println();
                System.out.println("| setting | accuracy | 95% CI | worked answers | tokens/answer | thinking tokens/answer |");
                System.out.println("|---|---|---|---|---|---|");
                for (Evaluator.Report r : reports) {
                    System.out.printf(Locale.ROOT, "| %s | %d/%d = %.1f%% | %.1f–%.1f%% | %.1f%% | %.1f | %.1f |%n", r.setting().name(), r.correct(), r.n(),
                            100 * r.accuracy(), 100 * r.ci().low(), 100 * r.ci().high(), 100 * r.workedShare(), r.meanTokens(), r.meanThinking());
                }
            }
            System.err.println("per-item results: " + output);
        }
        return 0;
    }

    private List<Evaluator.Setting> settings() {
        List<List<String>> steers = new ArrayList<>();
        if (steer.isEmpty() || baseline) steers.add(List.of());
        if (!steer.isEmpty()) steers.add(steer);
        List<Double> ds = decisionScales.isEmpty() ? java.util.Collections.singletonList(null) : decisionScales;
        List<Double> ts = thinkScales.isEmpty() ? java.util.Collections.singletonList(null) : thinkScales;
        boolean thinking = !thinkScales.isEmpty() || thinkBudget != null || thinkMin != null || thinkOpen;
        List<Evaluator.Setting> out = new ArrayList<>();
        for (List<String> st : steers) {
            for (Double d : ds) {
                for (Double t : ts) {
                    ThinkingControl tc = thinking ? new ThinkingControl(t, thinkBudget, thinkMin, thinkWait, thinkOpen ? true : null) : null;
                    List<String> name = new ArrayList<>();
                    name.add(st.isEmpty() ? "unsteered" : "steer " + String.join("+", st));
                    if (d != null) name.add("decision '" + decision + "' x" + d);
                    if (t != null) name.add("think-scale " + t);
                    if (thinkBudget != null) name.add("budget " + thinkBudget);
                    if (thinkMin != null) name.add("min " + thinkMin);
                    out.add(new Evaluator.Setting(String.join(", ", name), st, tc, d == null ? null : decision, d == null ? 1 : d));
                }
            }
        }
        return out;
    }

    private static void print(Evaluator.Report r, boolean named) {
        System.out.printf(Locale.ROOT, "%saccuracy %d/%d = %.1f%% (Wilson 95%% CI %.1f–%.1f%%) | %.1f tokens/answer | worked %.1f%%%s | %.1f tok/s%n",
                named ? "[" + r.setting().name() + "] " : "", r.correct(), r.n(), 100 * r.accuracy(), 100 * r.ci().low(), 100 * r.ci().high(),
                r.meanTokens(), 100 * r.workedShare(), r.meanThinking() > 0 ? String.format(Locale.ROOT, " | thinking %.1f tokens/answer", r.meanThinking()) : "",
                r.generatedTokens() / Math.max(1e-9, r.seconds()));
    }

    private static void write(BufferedWriter out, Evaluator.Report r) throws IOException {
        ObjectMapper m = new ObjectMapper();
        for (Evaluator.ItemResult it : r.items()) {
            ObjectNode o = m.createObjectNode();
            o.put("setting", r.setting().name());
            o.put("index", it.item().index());
            o.put("question", it.item().question());
            o.put("label", it.item().label());
            o.put("answer", it.voted());
            o.put("correct", it.correct());
            ArrayNode a = o.putArray("samples");
            for (int i = 0; i < it.answers().size(); i++) {
                BatchResult br = it.answers().get(i);
                a.addObject().put("text", br.text()).put("extracted", it.extracted().get(i)).put("tokens", br.completionTokens())
                        .put("thinking_tokens", br.thinkingTokens()).put("finish_reason", br.finishReason());
            }
            out.write(o.toString());
            out.newLine();
        }
    }
}
