package dev.tiller.cli;

import dev.tiller.engine.api.Device;
import dev.tiller.engine.api.Model;
import dev.tiller.kernels.Parallel;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** Options shared by every command that loads a model. */
public final class ModelOptions {
    @Option(names = {"-m", "--model"}, required = true, paramLabel = "PATH", description = "GGUF file or Hugging Face folder")
    public Path model;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "worker threads (default: all cores)")
    public Integer threads;

    @Option(names = {"-c", "--ctx-size"}, paramLabel = "N", description = "context size (default: min(model context, " + Model.DEFAULT_CONTEXT + "))")
    public Integer contextSize;

    @Option(names = "--device", paramLabel = "cpu|cuda", defaultValue = "cpu",
            description = "where the forward pass runs: cpu, or cuda (weights and KV cache on the GPU) (default: ${DEFAULT-VALUE})")
    public String device = "cpu";

    @Option(names = "--mem-budget", paramLabel = "SIZE", description = "memory for KV caches and activations, e.g. 512M or 4G "
            + "(default: 3/4 of the maximum heap); a request over it fails with a clear error")
    public String memBudget;

    public Model load() {
        if (threads != null) {
            if (threads < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
            Parallel.setThreads(threads);
        }
        if (contextSize != null && contextSize < 1) throw new IllegalArgumentException("--ctx-size must be >= 1, got " + contextSize);
        long budget = memBudget != null ? dev.tiller.engine.model.MemoryBudget.parseSize(memBudget) : -1;
        Model m = Model.load(model, Device.parse(device));
        if (budget > 0) m.memoryBudget().setLimit(budget);
        return m;
    }

    public int contextFor(Model m) {
        return contextSize != null ? contextSize : Math.min(Model.DEFAULT_CONTEXT, m.config().contextLength());
    }
}
