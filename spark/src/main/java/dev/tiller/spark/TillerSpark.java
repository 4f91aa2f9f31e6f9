package dev.tiller.spark;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.batch.BatchEngine;
import dev.tiller.engine.batch.BatchRequest;
import dev.tiller.engine.batch.BatchResult;
import dev.tiller.engine.sampling.SamplerConfig;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;

import java.io.Serializable;
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

    /** Job settings shipped to the executors: the defaults of {@code tiller batch}. */
    public record Settings(String modelPath, int parallel, int batchRows, int contextSize, float temperature, int topK, float topP,
                           float minP, long seed, int maxTokens) implements Serializable {
        public static Settings defaults(String modelPath) {
            return new Settings(modelPath, 8, 512, 4096, 0.8f, 40, 0.95f, 0.05f, 0, 256);
        }

        public Settings withTemperature(float t) {
            return new Settings(modelPath, parallel, batchRows, contextSize, t, topK, topP, minP, seed, maxTokens);
        }

        BatchEngine.Options options(Model m) {
            SamplerConfig sc = SamplerConfig.defaults().withTemperature(temperature).withTopK(topK).withTopP(topP).withMinP(minP);
            return new BatchEngine.Options(parallel, batchRows, Math.min(contextSize, m.config().contextLength()), sc, seed, maxTokens, false);
        }
    }

    private static final ConcurrentHashMap<String, Model> MODELS = new ConcurrentHashMap<>();

    /** The executor's model: loaded (memory-mapped) on first use, then shared by every task of this JVM. */
    static Model model(String path) {
        return MODELS.computeIfAbsent(path, p -> Model.load(Path.of(p)));
    }

    public static Dataset<SparkResult> generate(Dataset<SparkRequest> requests, Settings settings) {
        return requests.mapPartitions((MapPartitionsFunction<SparkRequest, SparkResult>) it -> run(it, settings),
                Encoders.bean(SparkResult.class));
    }

    static Iterator<SparkResult> run(Iterator<SparkRequest> it, Settings settings) {
        List<BatchRequest> reqs = new ArrayList<>();
        while (it.hasNext()) reqs.add(it.next().toRequest());
        if (reqs.isEmpty()) return java.util.Collections.emptyIterator();
        Model m = model(settings.modelPath());
        List<SparkResult> out = new ArrayList<>(reqs.size());
        new BatchEngine(m, settings.options(m)).run(reqs, (BatchResult r) -> out.add(SparkResult.of(r)));
        return out.iterator();
    }

    private TillerSpark() {}
}
