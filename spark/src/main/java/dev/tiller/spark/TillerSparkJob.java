package dev.tiller.spark;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.batch.BatchFormat;
import dev.tiller.engine.batch.BatchJson;
import dev.tiller.engine.batch.BatchRequest;
import dev.tiller.engine.batch.BatchResult;
import dev.tiller.engine.batch.RequestFile;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.SerializableConfiguration;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import scala.Tuple2;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.sum;

/**
 * {@code tiller batch} as a Spark application, for {@code spark-submit --class dev.tiller.spark.TillerSparkJob}: requests
 * from every file of a directory or glob (any Hadoop file system), results as JSONL part files in an output directory.
 * The per-request fields and the defaults are {@code tiller batch}'s; bad lines are reported with their file and line
 * and the job goes on. Output is committed through Spark's output committer, so a task retried after a lost
 * executor leaves each result exactly once.
 */
@Command(name = "tiller-spark", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run every request of the input files on a Spark cluster; results go to part files under --output.",
                "The model (and any steering file) must be at a path every executor sees, or shipped with spark-submit --files."})
public final class TillerSparkJob implements Callable<Integer> {
    /** JVM flags the executors need to run the engine (added to spark.executor.extraJavaOptions unless present). */
    public static final String ENGINE_JVM_FLAGS = "--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED";

    @Option(names = {"-m", "--model"}, required = true, paramLabel = "PATH",
            description = "GGUF file or Hugging Face folder at a path every executor sees (or a file name shipped with --files)")
    String model;

    @Option(names = {"-i", "--input"}, required = true, paramLabel = "DIR|GLOB",
            description = "request files: a directory (its files not starting with _ or .), a file, or a glob; any Hadoop file system URI")
    String input;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR", description = "output directory (must not exist): JSONL part files")
    String output;

    @Option(names = "--input-format", paramLabel = "F", defaultValue = "auto",
            description = "jsonl, proto or auto (by each file's extension; default)")
    String inputFormat;

    @Option(names = "--partitions", paramLabel = "N",
            description = "generation tasks (default: 2 x the application's default parallelism)")
    Integer partitions;

    @Option(names = {"-P", "--parallel"}, paramLabel = "N", defaultValue = "8", description = "sequences decoding at once per task (default: ${DEFAULT-VALUE})")
    int parallel;

    @Option(names = "--batch-rows", paramLabel = "N", defaultValue = "512", description = "most tokens per forward pass (default: ${DEFAULT-VALUE})")
    int batchRows;

    @Option(names = {"-c", "--ctx-size"}, paramLabel = "N", defaultValue = "" + Model.DEFAULT_CONTEXT,
            description = "context size, at most the model's (default: ${DEFAULT-VALUE})")
    int contextSize;

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
            description = "job seed: requests without a seed use it mixed with their id (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--ignore-eos", description = "keep generating past end-of-generation tokens (benchmarks)")
    boolean ignoreEos;

    @Option(names = "--device", paramLabel = "cpu|cuda", defaultValue = "cpu",
            description = "where each executor runs the forward pass; cuda: every executor JVM loads the model onto its GPU (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", defaultValue = "0",
            description = "compute threads per executor JVM, shared by its tasks; 0 = spark.executor.cores if set, else the machine's cores (default: ${DEFAULT-VALUE})")
    int threads;

    public static void main(String[] args) {
        int rc = new CommandLine(new TillerSparkJob()).execute(args);
        if (rc != 0) System.exit(rc);
    }

    /** One request file as read by one task: its requests and rejected requests tagged with the file, and the problems. */
    record FileContents(List<Tagged> items, List<String> problems) implements Serializable {}

    /** A request (or a rejected request's error result) with the index of the file it came from. */
    record Tagged(String id, int file, String fileName, SparkRequest request, SparkResult rejected) implements Serializable {}

    @Override
    public Integer call() throws IOException {
        if (model.matches("^[A-Za-z][A-Za-z0-9+.-]*://.*") && !model.startsWith("file://")) {
            throw new IllegalArgumentException("--model " + model + ": executors memory-map the model, so it must be a local path "
                    + "every executor sees (a shared mount, or the same path on every node), or a file shipped with --files");
        }
        if (model.startsWith("file://")) model = java.net.URI.create(model).getPath();
        if (partitions != null && partitions < 1) throw new IllegalArgumentException("--partitions must be >= 1, got " + partitions);
        if (!inputFormat.equals("auto")) BatchFormat.parse(inputFormat, java.nio.file.Path.of("x"));
        TillerSpark.Settings settings = new TillerSpark.Settings(model, parallel, batchRows, contextSize, temperature, topK, topP, minP,
                seed, maxTokens, ignoreEos, device, threads);

        SparkConf conf = new SparkConf();
        String execOpts = conf.get("spark.executor.extraJavaOptions", "");
        if (!execOpts.contains("jdk.incubator.vector")) conf.set("spark.executor.extraJavaOptions", (execOpts + " " + ENGINE_JVM_FLAGS).trim());
        SparkSession spark = SparkSession.builder().config(conf).appName("tiller-batch").getOrCreate();
        try {
            return run(spark, settings);
        } finally {
            spark.stop();
        }
    }

    private int run(SparkSession spark, TillerSpark.Settings settings) throws IOException {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hadoop = jsc.hadoopConfiguration();
        List<String> files = listInputs(input, hadoop);
        Path out = new Path(output);
        if (out.getFileSystem(hadoop).exists(out)) throw new IllegalArgumentException("--output " + output + ": already exists");
        System.err.printf("tiller-spark: %d request file(s) under %s%n", files.size(), input);

        long t0 = System.nanoTime();
        Broadcast<SerializableConfiguration> hconf = jsc.broadcast(new SerializableConfiguration(hadoop));
        String fmt = inputFormat;
        List<Integer> indices = new ArrayList<>();
        for (int i = 0; i < files.size(); i++) indices.add(i);
        JavaRDD<FileContents> contents = jsc.parallelize(indices, files.size())
                .map(i -> readFile(files.get(i), i, fmt, hconf.value().value()))
                .persist(StorageLevel.MEMORY_AND_DISK());

        // ids are unique over the whole input: the first file (in path order) wins, as the first line wins in tiller batch
        int n = partitions != null ? partitions : Math.max(1, 2 * jsc.defaultParallelism());
        JavaPairRDD<String, List<Tagged>> byId = contents.flatMap(c -> c.items().iterator())
                .mapToPair(t -> new Tuple2<>(t.id(), List.of(t)))
                .reduceByKey((a, b) -> {
                    List<Tagged> all = new ArrayList<>(a);
                    all.addAll(b);
                    all.sort(Comparator.comparingInt(Tagged::file));
                    return all;
                }, n)
                .persist(StorageLevel.MEMORY_AND_DISK());

        List<String> problems = new ArrayList<>(contents.flatMap(c -> c.problems().iterator()).collect());
        problems.addAll(byId.filter(e -> e._2().size() > 1).flatMap(e -> {
            List<String> m = new ArrayList<>();
            for (Tagged t : e._2().subList(1, e._2().size())) {
                m.add(t.fileName() + ": duplicate id '" + e._1() + "' (first in " + e._2().get(0).fileName() + ") skipped");
            }
            return m.iterator();
        }).collect());
        for (String p : problems) System.err.println("warning: " + p);

        byId.values().map(l -> l.get(0)).mapPartitions(it -> generate(it, settings)).saveAsTextFile(output);
        double secs = (System.nanoTime() - t0) / 1e9;

        if (!problems.isEmpty()) {
            try (OutputStream o = out.getFileSystem(hadoop).create(new Path(out, "_problems.txt"))) {
                o.write((String.join("\n", problems) + "\n").getBytes(StandardCharsets.UTF_8));
            }
        }
        // read the results back through Spark's JSON file source for the summary
        Dataset<Row> results = spark.read().json(output);
        Row s = results.agg(count("*"), sum(col("prompt_tokens")), sum(col("completion_tokens")),
                sum(col("finish_reason").equalTo("error").cast("int"))).first();
        long total = s.getLong(0);
        long prompt = s.isNullAt(1) ? 0 : s.getLong(1), gen = s.isNullAt(2) ? 0 : s.getLong(2), errors = s.isNullAt(3) ? 0 : s.getLong(3);
        System.err.printf(Locale.ROOT, "done: %d results in %s (%d errors, %d problems reported) | prompt %d tokens | generated %d tokens in %.2f s, "
                        + "%.1f tok/s, %.2f requests/s%n", total, output, errors, problems.size(), prompt, gen, secs, gen / secs, total / secs);
        return 0;
    }

    /** The request files of a directory (not those starting with _ or .), or the files a path or glob names, in path order. */
    static List<String> listInputs(String input, Configuration hadoop) throws IOException {
        Path p = new Path(input);
        FileSystem fs = p.getFileSystem(hadoop);
        FileStatus[] found;
        if (fs.exists(p) && fs.getFileStatus(p).isDirectory()) {
            found = fs.listStatus(p, f -> !f.getName().startsWith("_") && !f.getName().startsWith("."));
        } else {
            found = fs.globStatus(p);
        }
        List<String> files = new ArrayList<>();
        if (found != null) for (FileStatus f : found) if (f.isFile()) files.add(f.getPath().toString());
        if (files.isEmpty()) throw new IllegalArgumentException("--input " + input + ": no request files there (a directory, a file or a glob)");
        files.sort(Comparator.naturalOrder());
        return files;
    }

    /** Reads one request file as {@code tiller batch} does; problems are prefixed with the file. */
    static FileContents readFile(String file, int index, String format, Configuration hadoop) throws IOException {
        Path p = new Path(file);
        BatchFormat f = BatchFormat.parse(format, java.nio.file.Path.of(p.getName()));
        RequestFile.Contents c;
        try (InputStream in = p.getFileSystem(hadoop).open(p)) {
            c = RequestFile.read(in, f, p.getName() + ":");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        List<Tagged> items = new ArrayList<>();
        for (BatchRequest r : c.requests()) items.add(new Tagged(r.id(), index, file, SparkRequest.of(r), null));
        for (BatchResult r : c.rejected()) items.add(new Tagged(r.id(), index, file, null, SparkResult.of(r)));
        List<String> problems = new ArrayList<>();
        for (String m : c.problems()) problems.add(file + ": " + m);
        return new FileContents(items, problems);
    }

    /** One generation task: rejected requests pass through as their error results, the rest run in one engine. */
    static Iterator<String> generate(Iterator<Tagged> it, TillerSpark.Settings settings) {
        List<String> lines = new ArrayList<>();
        List<SparkRequest> reqs = new ArrayList<>();
        while (it.hasNext()) {
            Tagged t = it.next();
            if (t.rejected() != null) lines.add(BatchJson.resultLine(t.rejected().toResult()));
            else reqs.add(t.request());
        }
        TillerSpark.run(reqs.iterator(), settings).forEachRemaining(r -> lines.add(BatchJson.resultLine(r.toResult())));
        return lines.iterator();
    }

}
