package dev.tiller.steering.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.cli.ModelOptions;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.steering.SteeringVector;
import dev.tiller.steering.controlvector.ControlVector;
import dev.tiller.steering.controlvector.ControlVectorFile;
import dev.tiller.steering.extract.ExtractionMethod;
import dev.tiller.steering.extract.Extractor;
import dev.tiller.steering.file.ModelFingerprint;
import dev.tiller.steering.file.Provenance;
import dev.tiller.steering.file.SteeringFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code tiller extract}: a steering vector from contrastive prompts, written as llama.cpp GGUF or .steer. */
@Command(name = "extract", mixinStandardHelpOptions = true, description = "Extract a steering vector from contrastive prompt pairs.")
public final class ExtractCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--positive", paramLabel = "FILE", description = "positive prompts, one a line (\\n escapes allowed)")
    Path positive;

    @Option(names = "--negative", paramLabel = "FILE", description = "negative prompts, paired line by line with --positive")
    Path negative;

    @Option(names = "--jsonl", paramLabel = "FILE", description = "instead of --positive/--negative: a JSONL file whose --field fills both templates")
    Path jsonl;

    @Option(names = "--field", defaultValue = "question", description = "JSONL field for {x} (default: ${DEFAULT-VALUE})")
    String field;

    @Option(names = "--positive-template", paramLabel = "T", description = "e.g. 'Q: {x} Think step by step.\\nA:'")
    String positiveTemplate;

    @Option(names = "--negative-template", paramLabel = "T", description = "e.g. 'Q: {x} Answer at once.\\nA:'")
    String negativeTemplate;

    @Option(names = "--limit", paramLabel = "N", description = "use the first N JSONL records")
    Integer limit;

    @Option(names = "--method", defaultValue = "mean", description = "mean, pca_diff or pca_center (default: ${DEFAULT-VALUE})")
    String method;

    @Option(names = "--site", defaultValue = "hook_resid_post", description = "per-block hook site (default: ${DEFAULT-VALUE})")
    String site;

    @Option(names = "--layers", paramLabel = "A-B", description = "blocks to extract (default: all; 1..last with --llama-cpp-compat)")
    String layers;

    @Option(names = "--tokens", defaultValue = "last", description = "last or mean: which tokens of a prompt (default: ${DEFAULT-VALUE})")
    String tokens;

    @Option(names = "--normalize", description = "scale each direction to unit length")
    boolean normalize;

    @Option(names = "--llama-cpp-compat", description = "follow llama.cpp's cvector-generator: pad pairs, every token, unit mean, stored one block later")
    boolean llamaCppCompat;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "FILE.gguf (llama.cpp control vector) or FILE.steer")
    Path output;

    @Override
    public Integer call() {
        try (Model model = modelOptions.load()) {
            List<String> pos = new ArrayList<>(), neg = new ArrayList<>();
            readPrompts(pos, neg);
            int n = model.config().layers();
            int[] range = layers != null ? SteeringArgs.layers(layers, n) : new int[]{llamaCppCompat ? 1 : 0, n - 1};
            Extractor.TokenAggregation agg = switch (tokens) {
                case "last" -> Extractor.TokenAggregation.LAST;
                case "mean" -> Extractor.TokenAggregation.MEAN;
                default -> throw new IllegalArgumentException("--tokens '" + tokens + "': expected last or mean");
            };
            ExtractionMethod m = ExtractionMethod.parse(method);
            HookSite s = SteeringArgs.site(site);
            var opts = new Extractor.Options(m, s, range[0], range[1], agg, llamaCppCompat, normalize);
            long t0 = System.nanoTime();
            SteeringVector v = new Extractor(model).extract(pos, neg, opts);
            double secs = (System.nanoTime() - t0) / 1e9;
            String name = output.getFileName().toString();
            if (name.endsWith(".gguf")) {
                ControlVectorFile.write(ControlVector.from(v, model.config().architecture().name()), output);
            } else if (name.endsWith(".steer")) {
                Map<String, String> cfg = new LinkedHashMap<>();
                cfg.put("method", m.cliName());
                cfg.put("site", s.suffix);
                cfg.put("layers", range[0] + "-" + range[1]);
                cfg.put("tokens", tokens);
                cfg.put("llama_cpp_compat", Boolean.toString(llamaCppCompat));
                cfg.put("normalize", Boolean.toString(normalize));
                cfg.put("pairs", Integer.toString(pos.size()));
                cfg.put("data", jsonl != null ? jsonl + " | " + positiveTemplate + " | " + negativeTemplate : positive + " | " + negative);
                Map<String, Double> metrics = new LinkedHashMap<>();
                v.directions().forEach((l, d) -> metrics.put("norm.layer" + l, norm(d)));
                new SteeringFile(ModelFingerprint.of(model), List.of(v),
                        Provenance.now("tiller extract", modelOptions.model.toString(), "contrastive extraction", cfg, metrics)).write(output);
            } else {
                throw new IllegalArgumentException("-o " + output + ": name it .gguf (llama.cpp control vector) or .steer");
            }
            System.err.printf("extracted %s at %s, blocks %s from %d pairs in %.1f s -> %s%n", m.cliName(), s.suffix, v.directions().keySet(), pos.size(), secs, output);
            v.directions().forEach((l, d) -> System.err.printf("  layer %d: norm %.4f%n", l, norm(d)));
        }
        return 0;
    }

    private void readPrompts(List<String> pos, List<String> neg) {
        try {
            if (jsonl != null) {
                if (positiveTemplate == null || negativeTemplate == null) throw new IllegalArgumentException("--jsonl needs --positive-template and --negative-template");
                ObjectMapper om = new ObjectMapper();
                for (String line : Files.readAllLines(jsonl)) {
                    if (line.isBlank()) continue;
                    if (limit != null && pos.size() >= limit) break;
                    JsonNode node = om.readTree(line);
                    JsonNode f = node.get(field);
                    if (f == null) throw new IllegalArgumentException(jsonl + ": a record has no field '" + field + "'");
                    // escapes (\n in a template) are read by the extractor, for every prompt alike
                    pos.add(positiveTemplate.replace("{x}", f.asText()));
                    neg.add(negativeTemplate.replace("{x}", f.asText()));
                }
            } else {
                if (positive == null || negative == null) throw new IllegalArgumentException("give --positive and --negative (or --jsonl with templates)");
                // empty lines are skipped, as llama.cpp's cvector-generator does
                Files.readAllLines(positive).stream().filter(l -> !l.isEmpty()).forEach(pos::add);
                Files.readAllLines(negative).stream().filter(l -> !l.isEmpty()).forEach(neg::add);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read prompts: " + e.getMessage(), e);
        }
    }

    static double norm(float[] d) {
        double s = 0;
        for (float f : d) s += (double) f * f;
        return Math.sqrt(s);
    }
}
