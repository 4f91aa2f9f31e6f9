package dev.tiller.cli;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.batch.BatchEngine;
import dev.tiller.engine.batch.BatchFormat;
import dev.tiller.engine.batch.BatchJob;
import dev.tiller.engine.sampling.SamplerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code tiller batch}: offline batch inference with continuous batching; resumable. */
@Command(name = "batch", mixinStandardHelpOptions = true,
        description = {"Run every request of a JSONL (or length-delimited Protobuf) file, many sequences decoding together;",
                "results are appended to the output as they finish. Re-run the same command to resume after a crash."})
public final class BatchCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = {"-i", "--input"}, required = true, paramLabel = "FILE", description = "requests: .jsonl, or .pb for length-delimited Protobuf")
    Path input;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "results (appended; an existing file is resumed)")
    Path output;

    @Option(names = "--input-format", paramLabel = "F", defaultValue = "auto", description = "jsonl, proto or auto (by extension; default)")
    String inputFormat;

    @Option(names = "--output-format", paramLabel = "F", defaultValue = "auto", description = "jsonl, proto or auto (by extension; default)")
    String outputFormat;

    @Option(names = {"-P", "--parallel"}, paramLabel = "N", defaultValue = "8", description = "sequences decoding at once (default: ${DEFAULT-VALUE})")
    int parallel;

    @Option(names = "--batch-rows", paramLabel = "N", defaultValue = "512", description = "most tokens per forward pass, prompt chunks included (default: ${DEFAULT-VALUE})")
    int batchRows;

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N", defaultValue = "256", description = "default max_tokens (default: ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--temp", paramLabel = "T", defaultValue = "0.8", description = "default temperature; 0 = greedy (default: ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "40", description = "default top-k (default: ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "0.95", description = "default top-p (default: ${DEFAULT-VALUE})")
    float topP;

    @Option(names = "--min-p", paramLabel = "P", defaultValue = "0.05", description = "default min-p (default: ${DEFAULT-VALUE})")
    float minP;

    @Option(names = {"-s", "--seed"}, paramLabel = "N", defaultValue = "0",
            description = "job seed: requests without a seed use it mixed with their id, so reruns draw the same (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--ignore-eos", description = "keep generating past end-of-generation tokens (benchmarks)")
    boolean ignoreEos;

    @Option(names = "--fsync", description = "force each result to disk (survives power loss, not only a killed process)")
    boolean fsync;

    @Option(names = "--no-progress", description = "no progress bar on stderr")
    boolean noProgress;

    @Override
    public Integer call() {
        BatchFormat inFmt = BatchFormat.parse(inputFormat, input);
        BatchFormat outFmt = BatchFormat.parse(outputFormat, output);
        if (!java.nio.file.Files.isRegularFile(input)) throw new IllegalArgumentException("-i " + input + ": no such file");
        try (Model model = modelOptions.load()) {
            SamplerConfig sc = SamplerConfig.defaults().withTemperature(temperature).withTopK(topK).withTopP(topP).withMinP(minP);
            BatchEngine.Options opts = new BatchEngine.Options(parallel, batchRows, modelOptions.contextFor(model), sc, seed, maxTokens, ignoreEos);
            BatchJob.Summary s = BatchJob.run(model, opts, input, inFmt, output, outFmt, fsync, !noProgress, System.err);
            System.err.printf("done: %d requests (%d already done, %d run, %d errors, %d malformed, %d duplicate ids) | prompt %d tokens | "
                            + "generated %d tokens in %.2f s, %.1f tok/s, parallel %d%n",
                    s.inputRequests(), s.alreadyDone(), s.ran(), s.errors(), s.malformed(), s.duplicates(), s.promptTokens(),
                    s.generatedTokens(), s.seconds(), s.generatedPerSecond(), parallel);
        }
        return 0;
    }
}
