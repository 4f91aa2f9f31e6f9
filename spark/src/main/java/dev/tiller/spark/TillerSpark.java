package dev.tiller.spark;

import dev.tiller.engine.api.Device;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.batch.BatchEngine;
import dev.tiller.engine.batch.BatchRequest;
import dev.tiller.engine.batch.BatchResult;
import dev.tiller.engine.sampling.SamplerConfig;
import dev.tiller.kernels.Parallel;
import org.apache.spark.SparkFiles;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;

import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The batch job on Apache Spark: a Dataset of requests becomes a Dataset of results. Each executor JVM memory-maps
 * the model once (the file must be at the same path on every executor) and shares it between its task threads; each
 * partition runs through the same continuous-batching engine as {@code tiller batch}, so the results are the same.
 */
public final class TillerSpark {

    /**
     * Job settings shipped to the executors: the defaults of {@code tiller batch}.
     *
     * @param modelPath a path every executor sees (shared file system, or the same local path on every node), or the
     *                  file name of a file shipped with {@code spark-submit --files}
     * @param device    {@code cpu} or {@code cuda}: where each executor runs its forward passes (one model per executor JVM)
     * @param threads   compute threads per executor JVM, shared by its tasks; 0 = {@code spark.executor.cores} when set,
     *                  else the JVM's default (the machine's cores)
     */
    public record Settings(String modelPath, int parallel, int batchRows, int contextSize, float temperature, int topK, float topP,
                           float minP, long seed, int maxTokens, boolean ignoreEos, String device, int threads) implements Serializable {
        public Settings {
            if (modelPath == null || modelPath.isBlank()) throw new IllegalArgumentException("model path is empty");
            if (parallel < 1) throw new IllegalArgumentException("parallel must be >= 1, got " + parallel);
            if (batchRows < 1) throw new IllegalArgumentException("batch rows must be >= 1, got " + batchRows);
            if (contextSize < 1) throw new IllegalArgumentException("context size must be >= 1, got " + contextSize);
            if (maxTokens < 0) throw new IllegalArgumentException("max tokens must be >= 0, got " + maxTokens);
            if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
            Device.parse(device);
        }

        public static Settings defaults(String modelPath) {
            return new Settings(modelPath, 8, 512, Model.DEFAULT_CONTEXT, 0.8f, 40, 0.95f, 0.05f, 0, 256, false, "cpu", 0);
        }

        public Settings withTemperature(float t) {
            return new Settings(modelPath, parallel, batchRows, contextSize, t, topK, topP, minP, seed, maxTokens, ignoreEos, device, threads);
        }

        public Settings withParallel(int p) {
            return new Settings(modelPath, p, batchRows, contextSize, temperature, topK, topP, minP, seed, maxTokens, ignoreEos, device, threads);
        }

        public Settings withContextSize(int c) {
            return new Settings(modelPath, parallel, batchRows, c, temperature, topK, topP, minP, seed, maxTokens, ignoreEos, device, threads);
        }

        BatchEngine.Options options(Model m) {
            SamplerConfig sc = SamplerConfig.defaults().withTemperature(temperature).withTopK(topK).withTopP(topP).withMinP(minP);
            return new BatchEngine.Options(parallel, batchRows, Math.min(contextSize, m.config().contextLength()), sc, seed, maxTokens, ignoreEos);
        }
    }

    private static final ConcurrentHashMap<String, Model> MODELS = new ConcurrentHashMap<>();

    /** The executor's model: loaded (memory-mapped) on first use, then shared by every task of this JVM. */
    static Model model(Settings s) {
        return MODELS.computeIfAbsent(s.modelPath() + "@" + s.device(), k -> {
            int threads = s.threads() > 0 ? s.threads() : executorCores();
            if (threads > 0) Parallel.setThreads(threads);
            return Model.load(resolve(s.modelPath()), Device.parse(s.device()));
        });
    }

    /** {@code spark.executor.cores} when set (the cores this executor was given), else 0. */
    static int executorCores() {
        org.apache.spark.SparkEnv env = org.apache.spark.SparkEnv.get();
        return env == null ? 0 : env.conf().getInt("spark.executor.cores", 0);
    }

    /** A path as given when it exists here, else the copy {@code spark-submit --files} shipped under that file name. */
    static Path resolve(String path) {
        Path p = Path.of(path);
        if (Files.exists(p)) return p;
        try {
            Path shipped = Path.of(SparkFiles.get(p.getFileName().toString()));
            if (Files.exists(shipped)) return shipped;
        } catch (RuntimeException notInATask) {
            // no SparkContext/SparkEnv here: report the path as given
        }
        return p;
    }

    public static Dataset<SparkResult> generate(Dataset<SparkRequest> requests, Settings settings) {
        return requests.mapPartitions((MapPartitionsFunction<SparkRequest, SparkResult>) it -> run(it, settings),
                Encoders.bean(SparkResult.class));
    }

    static Iterator<SparkResult> run(Iterator<SparkRequest> it, Settings settings) {
        List<BatchRequest> reqs = new ArrayList<>();
        while (it.hasNext()) reqs.add(it.next().toRequest());
        if (reqs.isEmpty()) return java.util.Collections.emptyIterator();
        Model m = model(settings);
        List<SparkResult> out = new ArrayList<>(reqs.size());
        new BatchEngine(m, settings.options(m)).run(reqs, (BatchResult r) -> out.add(SparkResult.of(r)));
        return out.iterator();
    }

    private TillerSpark() {}
}
