package dev.tiller.models.synthetic;

import dev.tiller.loader.GGMLType;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code tiller models write --preset qwen2.5-0.5b --type f16 --format gguf -o out.gguf --seed 1 --tokenizer PATH}.
 * A launcher mounts it as a subcommand; {@link #main} runs it on its own.
 */
@Command(name = "models", description = "Write random-weight models of real architectures.", mixinStandardHelpOptions = true,
        subcommands = {ModelsCommand.Write.class, ModelsCommand.ListPresets.class})
public final class ModelsCommand implements Runnable {

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new ModelsCommand()).execute(args));
    }

    @Command(name = "list", description = "List the presets.")
    static final class ListPresets implements Runnable {
        @Override
        public void run() {
            for (String name : Presets.names()) {
                ModelShape s = Presets.get(name);
                System.out.printf(Locale.ROOT, "%-14s %-6s layers %2d  embd %4d  heads %2d/%d  head_dim %3d  ff %5d  vocab %6d%n",
                        name, s.arch(), s.layers(), s.embd(), s.heads(), s.kvHeads(), s.headDim(), s.ff(), s.vocab());
            }
        }
    }

    @Command(name = "write", description = "Write a synthetic model as GGUF or as a Hugging Face folder.", mixinStandardHelpOptions = true)
    static final class Write implements Callable<Integer> {
        @Option(names = "--preset", required = true, description = "tiny-llama, tiny-qwen2, tiny-qwen3, tiny-gemma2, qwen2.5-0.5b, smollm2-135m, llama-3.2-1b")
        String preset;

        @Option(names = "--type", defaultValue = "f32", description = "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, "
                + "or llama.cpp's mixes q4_k_m and q5_k_m (gguf only)")
        String type;

        @Option(names = "--format", defaultValue = "gguf", description = "gguf or hf")
        String format;

        @Option(names = {"-o", "--output"}, required = true, description = "output .gguf file, or folder for hf")
        Path output;

        @Option(names = "--seed", defaultValue = "0")
        long seed;

        @Option(names = "--tokenizer", description = "a GGUF file or an HF tokenizer folder to take the vocabulary from "
                + "(gguf without it: a built-in byte-level tokenizer, one token per byte; hf needs it)")
        Path tokenizer;

        @Option(names = "--max-shard-bytes", defaultValue = "0", description = "hf only: split weights into shards of at most this size")
        long maxShardBytes;

        @Override
        public Integer call() {
            GGMLType t;
            QuantMix mix = QuantMix.parse(type);
            try {
                t = mix != null ? mix.base() : GGMLType.valueOf(type.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(new CommandLine(this), "unknown --type '" + type + "'");
            }
            if (!dev.tiller.kernels.quant.Quantizer.canQuantize(t)) {
                throw new CommandLine.ParameterException(new CommandLine(this), "--type '" + type + "' cannot be written (no quantizer for " + t + ")");
            }
            if (mix != null && format.equalsIgnoreCase("hf")) {
                throw new CommandLine.ParameterException(new CommandLine(this), "--type " + type + " is a GGUF mix; --format hf takes f32, f16 or bf16");
            }
            SyntheticModel model;
            TokenizerSource tok;
            try {
                model = SyntheticModel.preset(preset).withSeed(seed);
                tok = tokenizer == null ? null : TokenizerSource.of(tokenizer);
                if (tok == null && format.equalsIgnoreCase("hf")) {
                    throw new IllegalArgumentException("--format hf needs --tokenizer: the folder would have no tokenizer files and could not be loaded");
                }
            } catch (IllegalArgumentException | dev.tiller.loader.ModelFormatException e) {
                System.err.println("error: " + e.getMessage());
                return 2;
            }
            long start = System.nanoTime();
            try {
                switch (format.toLowerCase(Locale.ROOT)) {
                    case "gguf" -> {
                        if (mix != null) model.writeGguf(output, mix, tok);
                        else model.writeGguf(output, t, tok);
                    }
                    case "hf" -> model.writeHuggingFace(output, t, tok, maxShardBytes);
                    default -> throw new CommandLine.ParameterException(new CommandLine(this), "unknown --format '" + format + "' (gguf or hf)");
                }
            } catch (IllegalArgumentException | dev.tiller.loader.ModelFormatException e) {
                System.err.println("error: " + e.getMessage());
                return 2;
            }
            System.out.printf(Locale.ROOT, "wrote %s (%s, %s, seed %d) to %s in %.1f s%n", preset, mix != null ? mix : t, format, seed, output,
                    (System.nanoTime() - start) / 1e9);
            return 0;
        }
    }
}
