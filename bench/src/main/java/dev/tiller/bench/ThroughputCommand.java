package dev.tiller.bench;

import dev.tiller.cli.TillerSubcommand;
import dev.tiller.engine.api.Device;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.kernels.Parallel;
import dev.tiller.loader.GGMLType;
import dev.tiller.models.SyntheticModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * {@code tiller throughput}: prefill and decode tokens per second of a model on a device, for a real file or a
 * random-weight model of a real shape ({@code --preset qwen2.5-0.5b --type f16}), e.g. to compare {@code --device cpu}
 * with {@code --device cuda}.
 */
@Command(name = "throughput", mixinStandardHelpOptions = true, description = "Measure prefill and decode tok/s on a device.")
public final class ThroughputCommand implements Callable<Integer>, TillerSubcommand {
    @Option(names = {"-m", "--model"}, paramLabel = "PATH", description = "a model file or folder (default: a synthetic --preset model)")
    Path model;

    @Option(names = "--preset", defaultValue = "qwen2.5-0.5b", description = "synthetic model shape when no -m (default: ${DEFAULT-VALUE})")
    String preset;

    @Option(names = "--type", defaultValue = "f16", description = "synthetic model weight type (default: ${DEFAULT-VALUE})")
    String type;

    @Option(names = "--tokenizer", paramLabel = "PATH",
            description = "tokenizer for the synthetic model: a GGUF file or HF tokenizer folder (default: ../shared/tokenizers/qwen2.5)")
    Path tokenizer;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "cpu|cuda", description = "where to run (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--prompt-tokens", defaultValue = "256", description = "prefill length (default: ${DEFAULT-VALUE})")
    int promptTokens;

    @Option(names = "--gen-tokens", defaultValue = "64", description = "decode steps (default: ${DEFAULT-VALUE})")
    int genTokens;

    @Option(names = "--repeat", defaultValue = "2", description = "runs; the best is reported (default: ${DEFAULT-VALUE})")
    int repeat;

    @Option(names = {"-t", "--threads"}, description = "CPU worker threads")
    Integer threads;

    @Override
    public String name() {
        return "throughput";
    }

    @Override
    public Object command() {
        return new ThroughputCommand();
    }

    @Override
    public Integer call() throws Exception {
        if (threads != null) Parallel.setThreads(threads);
        Device dev = Device.parse(device);
        Path file = model, tmp = null;
        if (file == null) {
            tmp = Files.createTempFile("tiller-throughput-", ".gguf");
            file = tmp;
            long t0 = System.nanoTime();
            Path tok = tokenizer != null ? tokenizer : Path.of(System.getProperty("tiller.shared", "../shared"), "tokenizers", "qwen2.5");
            if (!Files.exists(tok)) throw new IllegalArgumentException("no tokenizer at " + tok + ": give --tokenizer PATH or -m MODEL");
            SyntheticModel.preset(preset).withSeed(1).writeGguf(file, GGMLType.valueOf(type.toUpperCase(java.util.Locale.ROOT)), tok);
            System.err.printf("wrote a random %s model (%s) in %.1f s%n", preset, type, (System.nanoTime() - t0) / 1e9);
        }
        try (Model m = Model.load(file, dev)) {
            int vocab = m.config().vocabSize();
            Random rnd = new Random(1);
            int[] prompt = new int[promptTokens];
            for (int i = 0; i < prompt.length; i++) prompt[i] = rnd.nextInt(vocab);
            double bestPrefill = 0, bestDecode = 0;
            for (int r = 0; r < Math.max(1, repeat); r++) {
                Session s = m.newSession(promptTokens + genTokens + 1);
                long t0 = System.nanoTime();
                float[] logits = s.prefill(prompt);
                long t1 = System.nanoTime();
                for (int i = 0; i < genTokens; i++) logits = s.decode(argmax(logits, vocab));
                long t2 = System.nanoTime();
                bestPrefill = Math.max(bestPrefill, promptTokens / ((t1 - t0) / 1e9));
                bestDecode = Math.max(bestDecode, genTokens / ((t2 - t1) / 1e9));
            }
            System.out.printf("%s on %s: prefill %d tokens %.1f tok/s | decode %d tokens %.1f tok/s%n", m.path().getFileName(),
                    dev.name().toLowerCase(java.util.Locale.ROOT), promptTokens, bestPrefill, genTokens, bestDecode);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
        return 0;
    }

    static int argmax(float[] x, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
