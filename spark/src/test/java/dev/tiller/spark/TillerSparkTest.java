package dev.tiller.spark;

import dev.tiller.testsupport.Shared;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.batch.BatchEngine;
import dev.tiller.engine.batch.BatchFormat;
import dev.tiller.engine.batch.BatchJob;
import dev.tiller.engine.batch.BatchRequest;
import dev.tiller.engine.batch.BatchResult;
import dev.tiller.engine.batch.RequestFile;
import dev.tiller.engine.batch.ResultFile;
import dev.tiller.engine.sampling.SamplerConfig;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The Spark job in local[2] mode gives what {@code tiller batch} gives on the same input. */
class TillerSparkTest {

    @Test
    void sparkLocalModeEqualsTheSingleMachineJob(@TempDir Path dir) {
        String model = Shared.stories260K().toString();
        String happy = Shared.reference("stories260K", "happy_mean.gguf").toString();
        String[] prompts = {"Once upon a time", "The little dog was very sad because", "Tom and Lily", "One day", "She wanted to",
                "The sun was", "A big red ball", "Mom said", "The cat", "Lily and Ben"};
        List<BatchRequest> reqs = new ArrayList<>();
        for (int i = 0; i < prompts.length; i++) {
            BatchRequest r = BatchRequest.ofPrompt("q" + i, prompts[i]).withMaxTokens(12 + i);
            if (i % 4 == 1) r = r.withSteer(List.of(happy + ":" + (i % 8 == 1 ? "0.6" : "-0.6")));
            reqs.add(r);
        }
        Path in = dir.resolve("in.jsonl"), out = dir.resolve("out.jsonl");
        RequestFile.write(in, BatchFormat.JSONL, reqs);
        try (Model m = Model.load(Path.of(model))) {
            BatchEngine.Options o = new BatchEngine.Options(4, 512, 256, SamplerConfig.greedy(), 0, 256, false);
            BatchJob.run(m, o, in, BatchFormat.JSONL, out, BatchFormat.JSONL, false, false, new PrintStream(OutputStream.nullOutputStream()));
        }
        Map<String, BatchResult> expected = new HashMap<>();
        for (BatchResult r : ResultFile.read(out, BatchFormat.JSONL)) expected.put(r.id(), r);
        assertEquals(prompts.length, expected.size());

        SparkSession spark = SparkSession.builder().master("local[2]").appName("tiller-test")
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
        try {
            List<SparkRequest> beans = new ArrayList<>();
            for (BatchRequest r : reqs) beans.add(SparkRequest.of(r));
            Dataset<SparkRequest> ds = spark.createDataset(beans, Encoders.bean(SparkRequest.class)).repartition(2);
            TillerSpark.Settings s = new TillerSpark.Settings(model, 3, 512, 256, 0f, 40, 0.95f, 0.05f, 0, 256, false, "cpu", 0);
            List<SparkResult> got = TillerSpark.generate(ds, s).collectAsList();
            assertEquals(prompts.length, got.size());
            for (SparkResult g : got) {
                BatchResult e = expected.get(g.getId());
                assertNotNull(e, g.getId());
                BatchResult r = g.toResult();
                assertArrayEquals(e.tokens(), r.tokens(), g.getId());
                assertEquals(e.text(), r.text(), g.getId());
                assertEquals(e.finishReason(), r.finishReason(), g.getId());
                assertNull(r.error(), g.getId());
            }
        } finally {
            spark.stop();
        }
    }
}
