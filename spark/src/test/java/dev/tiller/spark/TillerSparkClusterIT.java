package dev.tiller.spark;

import dev.tiller.testsupport.Shared;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.batch.BatchEngine;
import dev.tiller.engine.batch.BatchFormat;
import dev.tiller.engine.batch.BatchJob;
import dev.tiller.engine.batch.BatchJson;
import dev.tiller.engine.batch.BatchRequest;
import dev.tiller.engine.batch.BatchResult;
import dev.tiller.engine.batch.RequestFile;
import dev.tiller.engine.batch.ResultFile;
import dev.tiller.engine.sampling.SamplerConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The spark-submit jar on a real standalone cluster on this machine: a master and two workers, each its own JVM started
 * from the Maven-provided Spark jars (a SPARK_HOME whose jars/ links them), loopback only, and the job submitted with
 * {@code SparkSubmit} (what the spark-submit script runs). One worker is killed (with its executor) while the job runs:
 * the job still completes, every request is answered exactly once, and the results equal {@code tiller batch}'s.
 */
class TillerSparkClusterIT {
    static final ObjectMapper JSON = new ObjectMapper();
    /** What Spark's launcher passes to its JVMs on Java 17+ (JavaModuleOptions). */
    static final List<String> OPENS = List.of("-XX:+IgnoreUnrecognizedVMOptions",
            "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/java.net=ALL-UNNAMED", "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED", "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/sun.nio.cs=ALL-UNNAMED",
            "--add-opens=java.base/sun.security.action=ALL-UNNAMED", "--add-opens=java.base/sun.util.calendar=ALL-UNNAMED",
            "-Djdk.reflect.useDirectMethodHandle=false", "-Dio.netty.tryReflectionSetAccessible=true");

    final List<Process> started = new ArrayList<>();
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @AfterEach
    void stopCluster() {
        for (Process p : started) kill(p.toHandle());
    }

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void standaloneClusterSurvivesALostWorkerAndEqualsTheSingleMachineJob(@TempDir Path dir) throws Exception {
        Path jobJar = Path.of(System.getProperty("tiller.spark.jobJar", "target/tiller-spark-job.jar"));
        assertTrue(Files.isRegularFile(jobJar), "the spark-submit jar is built in package: " + jobJar);
        String model = Shared.stories260K().toAbsolutePath().toString();
        String happy = Shared.reference("stories260K", "happy_mean.gguf").toAbsolutePath().toString();

        // requests in three files; a malformed line in the middle of the second
        String[] starts = {"Once upon a time", "The little dog was very sad because", "Tom and Lily", "One day", "She wanted to",
                "The sun was", "A big red ball", "Mom said", "The cat", "Lily and Ben", "There was a bird", "The boy ran"};
        List<BatchRequest> all = new ArrayList<>();
        for (int i = 0; i < 96; i++) {
            BatchRequest r = BatchRequest.ofPrompt("r" + i, starts[i % starts.length]).withMaxTokens(120 + (i * 37) % 100);
            if (i % 5 == 1) r = r.withSteer(List.of(happy + ":" + (i % 2 == 0 ? "0.6" : "-0.4")));
            if (i % 7 == 3) r = new BatchRequest(r.id(), r.prompt(), null, r.maxTokens(), 0.8f, null, null, null, 1000L + i, List.of(), r.steer(), null, 0);
            all.add(r);
        }
        Path in = Files.createDirectories(dir.resolve("requests"));
        List<String> lines = new ArrayList<>();
        for (BatchRequest r : all) lines.add(BatchJson.requestLine(r));
        Files.write(in.resolve("part-a.jsonl"), lines.subList(0, 40));
        List<String> b = new ArrayList<>(lines.subList(40, 70));
        b.add(7, "{\"id\": \"broken\", \"prompt\": ");   // line 8 of part-b.jsonl
        Files.write(in.resolve("part-b.jsonl"), b);
        Files.write(in.resolve("part-c.jsonl"), lines.subList(70, 96));

        // tiller batch on the same requests, one file
        Path single = dir.resolve("single.jsonl"), expectedOut = dir.resolve("expected.jsonl");
        RequestFile.write(single, BatchFormat.JSONL, all);
        long t0 = System.nanoTime();
        BatchJob.Summary local;
        try (Model m = Model.load(Path.of(model))) {
            BatchEngine.Options o = new BatchEngine.Options(8, 512, 512, SamplerConfig.defaults().withTemperature(0), 0, 256, false);
            local = BatchJob.run(m, o, single, BatchFormat.JSONL, expectedOut, BatchFormat.JSONL, false, false, new PrintStream(OutputStream.nullOutputStream()));
        }
        System.out.printf(Locale.ROOT, "tiller batch, this JVM, all cores: %d requests, %d tokens in %.2f s: %.1f tok/s, %.2f requests/s%n",
                all.size(), local.generatedTokens(), (System.nanoTime() - t0) / 1e9, local.generatedPerSecond(),
                all.size() / local.seconds());
        Map<String, BatchResult> expected = new HashMap<>();
        for (BatchResult r : ResultFile.read(expectedOut, BatchFormat.JSONL)) expected.put(r.id(), r);
        assertEquals(all.size(), expected.size());

        // the cluster
        Path home = sparkHome(dir.resolve("spark-home"));
        Path log4j = dir.resolve("log4j2.properties");
        Files.writeString(log4j, """
                rootLogger.level = warn
                rootLogger.appenderRef.stderr.ref = console
                appender.console.type = Console
                appender.console.name = console
                appender.console.target = SYSTEM_ERR
                appender.console.layout.type = PatternLayout
                appender.console.layout.pattern = %d{HH:mm:ss.SSS} %p %c{1}: %m%n
                """);
        int masterPort = freePort(), masterUi = freePort(), driverUi = freePort();
        String master = "spark://127.0.0.1:" + masterPort;
        start(dir, "master", home, log4j, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", "" + masterPort,
                "--webui-port", "" + masterUi);
        List<Process> workers = new ArrayList<>();
        for (int w = 0; w < 2; w++) {
            Path work = Files.createDirectories(dir.resolve("work-" + w));
            workers.add(start(dir, "worker-" + w, home, log4j, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                    "--cores", "1", "--memory", "1g", "--work-dir", work.toString(), "--webui-port", "" + freePort(), master));
        }
        awaitAliveWorkers(masterUi, 2, dir);

        Path out = dir.resolve("results");
        long s0 = System.nanoTime();
        Process driver = start(dir, "driver", home, log4j, "org.apache.spark.deploy.SparkSubmit", "--master", master,
                "--deploy-mode", "client", "--class", "dev.tiller.spark.TillerSparkJob",
                "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
                "--conf", "spark.ui.port=" + driverUi, "--conf", "spark.executor.memory=768m", "--conf", "spark.executor.cores=1",
                "--conf", "spark.executor.extraJavaOptions=-Dlog4j2.configurationFile=" + log4j.toUri(),
                jobJar.toAbsolutePath().toString(),
                "-m", model, "-i", in.toString(), "-o", out.toString(), "--temp", "0", "-c", "512", "-P", "8", "--partitions", "8");

        // once some generation tasks are done and others remain, kill a worker that runs one (with its executor);
        // -Dtiller.cluster.kill=false leaves both running (for measuring throughput)
        boolean kill = Boolean.parseBoolean(System.getProperty("tiller.cluster.kill", "true"));
        String killedAt = kill ? killAWorkerMidJob(driverUi, workers, driver) : "(no kill asked)";
        assertTrue(driver.waitFor(5, TimeUnit.MINUTES), "driver did not finish");
        double clusterSecs = (System.nanoTime() - s0) / 1e9;
        String driverLog = Files.readString(dir.resolve("driver.log"));
        assertEquals(0, driver.exitValue(), driverLog);
        assertNotNull(killedAt, "no worker was killed while generation tasks remained:\n" + lastSeen + driverLog);
        System.out.println("killed a worker when " + killedAt);
        assertTrue(driverLog.contains("part-b.jsonl: line 8: malformed JSON"), driverLog);
        if (kill) assertTrue(driverLog.contains("Lost executor"), "the killed worker's executor was lost:\n" + driverLog);
        String done = driverLog.lines().filter(l -> l.startsWith("done: ")).findFirst().orElse("");
        System.out.printf(Locale.ROOT, "spark-submit on the cluster (2 workers x 1 core" + (kill ? ", one killed" : "") + "): %s (wall %.1f s with start-up)%n", done, clusterSecs);

        // every request answered exactly once, equal to tiller batch
        List<BatchResult> got = new ArrayList<>();
        try (Stream<Path> parts = Files.list(out)) {
            for (Path p : parts.filter(p -> p.getFileName().toString().startsWith("part-")).toList()) {
                for (String l : Files.readAllLines(p)) if (!l.isBlank()) got.add(BatchJson.parseResult(l));
            }
        }
        Set<String> seen = new HashSet<>();
        for (BatchResult g : got) {
            assertTrue(seen.add(g.id()), "answered twice: " + g.id());
            BatchResult e = expected.get(g.id());
            assertNotNull(e, "unexpected id " + g.id());
            assertArrayEquals(e.tokens(), g.tokens(), g.id());
            assertEquals(e.text(), g.text(), g.id());
            assertEquals(e.finishReason(), g.finishReason(), g.id());
            assertNull(g.error(), g.id());
        }
        assertEquals(expected.keySet(), seen, "every request answered");
    }

    /** A SPARK_HOME whose jars/ links the Spark jars of this test's class path (what a Spark distribution ships). */
    static Path sparkHome(Path home) throws IOException {
        Path jars = Files.createDirectories(home.resolve("jars"));
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        int n = 0;
        for (String e : cp.split(File.pathSeparator)) {
            Path p = Path.of(e);
            String name = p.getFileName().toString();
            if (!name.endsWith(".jar") || !Files.isRegularFile(p) || name.startsWith("tiller-")) continue;
            Path link = jars.resolve(name);
            if (!Files.exists(link)) {
                Files.createSymbolicLink(link, p.toAbsolutePath());
                n++;
            }
        }
        assertTrue(n > 50, "Spark's jars are on the test class path");
        return home;
    }

    Process start(Path dir, String name, Path home, Path log4j, String mainClass, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add(name.equals("driver") ? "-Xmx768m" : "-Xmx256m");
        cmd.addAll(OPENS);
        cmd.add("-Dlog4j2.configurationFile=" + log4j.toUri());
        cmd.add("-cp");
        cmd.add(home.resolve("jars") + File.separator + "*");
        cmd.add(mainClass);
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(name + ".log").toFile());
        pb.environment().put("SPARK_HOME", home.toString());
        pb.environment().put("SPARK_SCALA_VERSION", "2.13");
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        pb.environment().put("SPARK_LOCAL_HOSTNAME", "localhost");
        Process p = pb.start();
        started.add(p);
        return p;
    }

    void awaitAliveWorkers(int masterUi, int n, Path dir) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline) {
            JsonNode m = getJson("http://127.0.0.1:" + masterUi + "/json/");
            int alive = 0;
            if (m != null) for (JsonNode w : m.path("workers")) if ("ALIVE".equals(w.path("state").asText())) alive++;
            if (alive >= n) return;
            Thread.sleep(250);
        }
        fail("workers did not register with the master:\n" + Files.readString(dir.resolve("master.log")) + Files.readString(dir.resolve("worker-0.log")));
    }

    /** Waits for the generation stage to be part done, then kills the worker whose executor runs one of its tasks. */
    final StringBuilder lastSeen = new StringBuilder();

    String killAWorkerMidJob(int driverUi, List<Process> workers, Process driver) throws Exception {
        String base = "http://127.0.0.1:" + driverUi + "/api/v1/applications";
        while (driver.isAlive()) {
            Thread.sleep(100);
            JsonNode apps = getJson(base);
            if (apps == null || !apps.isArray() || apps.isEmpty()) continue;
            String app = apps.get(0).path("id").asText();
            JsonNode stages = getJson(base + "/" + app + "/stages");
            if (stages == null) continue;
            for (JsonNode s : stages) {
                String seen = s.path("stageId").asText() + " " + s.path("name").asText() + " " + s.path("status").asText()
                        + " " + s.path("numCompleteTasks").asText() + "/" + s.path("numTasks").asText();
                if (lastSeen.indexOf(seen) < 0) lastSeen.append(seen).append('\n');
                if (!s.path("status").asText().equals("ACTIVE") || !s.path("name").asText().contains("SparkHadoopWriter")) continue;
                int total = s.path("numTasks").asInt(), complete = s.path("numCompleteTasks").asInt();
                if (complete < 1 || complete > total - 3) continue;
                JsonNode execs = getJson(base + "/" + app + "/executors");
                if (execs == null) continue;
                lastSeen.append(execs).append('\n');
                for (Process w : workers) w.toHandle().descendants().forEach(d -> {
                    // at most the first 300 characters: a process's arguments may be fewer (or hidden, so none)
                    String args = String.join(" ", d.info().arguments().orElse(new String[0]));
                    lastSeen.append(d.pid()).append(' ').append(args, 0, Math.min(300, args.length())).append('\n');
                });
                for (JsonNode e : execs) {
                    if (e.path("id").asText().equals("driver") || e.path("activeTasks").asInt() < 1) continue;
                    String flag = e.path("id").asText();
                    for (Process w : workers) {
                        boolean runsIt = w.toHandle().descendants().anyMatch(d -> {
                            String[] a = d.info().arguments().orElse(new String[0]);
                            for (int i = 0; i + 1 < a.length; i++) if (a[i].equals("--executor-id") && a[i + 1].equals(flag)) return true;
                            return false;
                        });
                        if (runsIt) {
                            kill(w.toHandle());
                            return complete + "/" + total + " generation tasks were done (executor " + flag + " lost)";
                        }
                    }
                }
            }
        }
        return null;
    }

    static void kill(ProcessHandle p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
    }

    JsonNode getJson(String url) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(3)).build(),
                    HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? JSON.readTree(r.body()) : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
