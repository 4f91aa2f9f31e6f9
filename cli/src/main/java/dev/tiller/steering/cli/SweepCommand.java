package dev.tiller.steering.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.cli.ModelOptions;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.generate.Generation;
import dev.tiller.engine.generate.GenerationOptions;
import dev.tiller.engine.generate.Generator;
import dev.tiller.engine.sampling.SamplerConfig;
import dev.tiller.steering.Positions;
import dev.tiller.steering.Steering;
import dev.tiller.steering.SteeringVector;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code tiller sweep}: generates at each of a list of scales and scores the outputs, writing a table (markdown, or
 * CSV for a .csv name) and a PNG plot. Scores: {@code words} (mean count of positive minus negative words per
 * sampled text) and {@code arith} (greedy accuracy on GSM8K-format JSONL, and the share of answers that show work).
 */
@Command(name = "sweep", mixinStandardHelpOptions = true, description = "Generate across steering scales; write a score table and a plot.")
public final class SweepCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--vector", required = true, paramLabel = "FILE", description = "steering vector: .gguf control vector or .steer")
    Path vector;

    @Option(names = "--scales", required = true, split = ",", paramLabel = "S", description = "comma-separated scales, e.g. -1,-0.5,0,0.5,1")
    List<Float> scales;

    @Option(names = "--layers", paramLabel = "A-B", description = "steer these blocks only")
    String layers;

    @Option(names = "--site", paramLabel = "SITE", description = "apply at this site instead of the vector's own")
    String site;

    @Option(names = "--positions", paramLabel = "SPEC", description = "all, prompt, generated, A:B, gen:A:B or 0,3,5 (default: the vector's)")
    String positions;

    @Option(names = "--norm-preserving", description = "rescale steered rows to their original norm")
    boolean normPreserving;

    @Option(names = "--score", defaultValue = "words", description = "words or arith (default: ${DEFAULT-VALUE})")
    String score;

    @Option(names = {"-p", "--prompt"}, description = "words: the prompt to sample stories from")
    String prompt = "Once upon a time";

    @Option(names = "--samples", defaultValue = "20", description = "words: stories per scale (default: ${DEFAULT-VALUE})")
    int samples;

    @Option(names = "--positive-words", split = ",", description = "words: word prefixes that score +1")
    List<String> positiveWords = List.of("happ", "joy", "smil", "laugh");

    @Option(names = "--negative-words", split = ",", description = "words: word prefixes that score -1")
    List<String> negativeWords = List.of("sad", "cry", "cried", "cries", "angr");

    @Option(names = "--data", paramLabel = "FILE", description = "arith: JSONL with question and answer ('... #### N')")
    Path data;

    @Option(names = "--limit", description = "arith: first N records")
    Integer limit;

    @Option(names = {"-n", "--n-predict"}, defaultValue = "80", description = "tokens per generation (default: ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--temp", defaultValue = "0.8", description = "words: temperature (default: ${DEFAULT-VALUE}); arith is greedy")
    float temperature;

    @Option(names = {"-s", "--seed"}, defaultValue = "42", description = "seed; sample i uses seed+i at every scale (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "table: .md (markdown) or .csv")
    Path output;

    @Option(names = "--plot", paramLabel = "FILE.png", description = "PNG plot of the scores per scale")
    Path plot;

    @Override
    public Integer call() {
        try (Model model = modelOptions.load()) {
            List<SteeringVector> vectors = new ArrayList<>();
            for (SteeringVector v : VectorFiles.load(vector, model)) {
                if (layers != null) {
                    int[] r = SteeringArgs.layers(layers, model.config().layers());
                    v = v.restrictedTo(r[0], r[1]);
                }
                if (site != null) v = v.withSite(SteeringArgs.site(site));
                if (positions != null) v = v.withPositions(Positions.parse(positions));
                if (normPreserving) v = v.withNormPreserving(true);
                vectors.add(v);
            }
            Task task = switch (score) {
                case "words" -> new WordsTask();
                case "arith" -> new ArithTask(readArith());
                default -> throw new IllegalArgumentException("--score '" + score + "': expected words or arith");
            };
            List<Map<String, Double>> rows = new ArrayList<>();
            for (float s : scales) {
                Session session = model.newSession();
                Steering steering = new Steering(model.config());
                for (SteeringVector v : vectors) steering.add(v, s);
                steering.install(session);
                long t0 = System.nanoTime();
                Map<String, Double> m = task.run(session);
                rows.add(m);
                System.err.printf(Locale.ROOT, "scale %6.3f: %s (%.1f s)%n", s, m, (System.nanoTime() - t0) / 1e9);
            }
            String table = output != null && output.toString().endsWith(".csv") ? csv(rows) : markdown(rows);
            System.out.print(table);
            try {
                if (output != null) Files.writeString(output, table);
            } catch (IOException e) {
                throw new UncheckedIOException("-o " + output + ": " + e.getMessage(), e);
            }
            if (plot != null) {
                double[] x = scales.stream().mapToDouble(Float::doubleValue).toArray();
                Color[] colors = {new Color(31, 119, 180), new Color(214, 39, 40), new Color(44, 160, 44)};
                List<LinePlot.Series> series = new ArrayList<>();
                List<String> plotted = task.plotted();
                for (int i = 0; i < plotted.size(); i++) {
                    String k = plotted.get(i);
                    series.add(new LinePlot.Series(k, rows.stream().mapToDouble(r -> r.get(k)).toArray(), colors[i % colors.length]));
                }
                LinePlot.write(plot, task.title() + " — " + vector.getFileName(), "steering scale", String.join(" / ", plotted), x, series);
            }
        }
        return 0;
    }

    private String markdown(List<Map<String, Double>> rows) {
        StringBuilder b = new StringBuilder("| scale | " + String.join(" | ", rows.getFirst().keySet()) + " |\n|---|");
        b.append("---|".repeat(rows.getFirst().size())).append('\n');
        for (int i = 0; i < rows.size(); i++) {
            b.append("| ").append(scales.get(i));
            for (double v : rows.get(i).values()) b.append(" | ").append(String.format(Locale.ROOT, "%.3f", v));
            b.append(" |\n");
        }
        return b.toString();
    }

    private String csv(List<Map<String, Double>> rows) {
        StringBuilder b = new StringBuilder("scale," + String.join(",", rows.getFirst().keySet()) + "\n");
        for (int i = 0; i < rows.size(); i++) {
            b.append(scales.get(i));
            for (double v : rows.get(i).values()) b.append(',').append(String.format(Locale.ROOT, "%.4f", v));
            b.append('\n');
        }
        return b.toString();
    }

    private interface Task {
        Map<String, Double> run(Session session);

        List<String> plotted();

        String title();
    }

    /** Samples stories and counts positive and negative words. */
    private final class WordsTask implements Task {
        final Pattern pos = wordPattern(positiveWords), neg = wordPattern(negativeWords);

        public Map<String, Double> run(Session session) {
            double p = 0, n = 0;
            for (int i = 0; i < samples; i++) {
                session.reset();
                SamplerConfig sc = new SamplerConfig(temperature, 40, 0.95f, 0.05f, 1f, 64, 0f, 0f, seed + i);
                Generation g = new Generator(session).generate(prompt, GenerationOptions.defaults().withSampler(sc).withMaxTokens(maxTokens), t -> {});
                p += count(pos, g.text());
                n += count(neg, g.text());
            }
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("score", (p - n) / samples);
            m.put("positive_words", p / samples);
            m.put("negative_words", n / samples);
            return m;
        }

        public List<String> plotted() {
            return List.of("score");
        }

        public String title() {
            return "sentiment words per story";
        }
    }

    static Pattern wordPattern(List<String> prefixes) {
        return Pattern.compile("\\b(?:" + String.join("|", prefixes.stream().map(Pattern::quote).toList()) + ")\\w*", Pattern.CASE_INSENSITIVE);
    }

    static int count(Pattern p, String text) {
        Matcher m = p.matcher(text);
        int c = 0;
        while (m.find()) c++;
        return c;
    }

    record ArithItem(String question, String gold) {}

    private List<ArithItem> readArith() {
        if (data == null) throw new IllegalArgumentException("--score arith needs --data FILE.jsonl");
        List<ArithItem> items = new ArrayList<>();
        ObjectMapper om = new ObjectMapper();
        try {
            for (String line : Files.readAllLines(data)) {
                if (line.isBlank()) continue;
                if (limit != null && items.size() >= limit) break;
                JsonNode n = om.readTree(line);
                if (n.get("question") == null || n.get("answer") == null) throw new IllegalArgumentException(data + ": records need question and answer");
                items.add(new ArithItem(n.get("question").asText(), finalAnswer(n.get("answer").asText())));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("--data " + data + ": " + e.getMessage(), e);
        }
        return items;
    }

    /** The text after the last "####", trimmed; null if there is none. */
    static String finalAnswer(String s) {
        int i = s.lastIndexOf("####");
        return i < 0 ? null : s.substring(i + 4).trim();
    }

    /** Greedy answers to "Q: {question}\nA:"; accuracy and the share that show work (an '=' before '####'). */
    private final class ArithTask implements Task {
        final List<ArithItem> items;

        ArithTask(List<ArithItem> items) {
            this.items = items;
        }

        public Map<String, Double> run(Session session) {
            int correct = 0, worked = 0;
            for (ArithItem it : items) {
                session.reset();
                Generation g = new Generator(session).generate("Q: " + it.question + "\nA:", GenerationOptions.greedy(maxTokens), t -> {});
                String text = g.text();
                int hashes = text.indexOf("####");
                if (text.substring(0, hashes < 0 ? text.length() : hashes).contains("=")) worked++;
                String ans = finalAnswer(text);
                if (ans != null && ans.equals(it.gold)) correct++;
            }
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("accuracy", (double) correct / items.size());
            m.put("worked", (double) worked / items.size());
            return m;
        }

        public List<String> plotted() {
            return List.of("accuracy", "worked");
        }

        public String title() {
            return "arith: greedy accuracy and worked answers (" + items.size() + " items)";
        }
    }

    @SuppressWarnings("unused")
    private static String list(float[] a) {
        return Arrays.toString(a);
    }
}
