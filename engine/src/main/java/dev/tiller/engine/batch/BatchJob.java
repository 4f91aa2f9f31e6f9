package dev.tiller.engine.batch;

import dev.tiller.engine.api.Model;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code tiller batch}: requests from a file, results appended to a file, resumable. Re-running the same command after
 * a crash (or kill -9) finds the results already written, drops a partial last record, and runs only the rest.
 */
public final class BatchJob {

    public record Summary(int inputRequests, int alreadyDone, int ran, int errors, int malformed, int duplicates,
                          long promptTokens, long generatedTokens, double seconds) {
        public double generatedPerSecond() {
            return seconds > 0 ? generatedTokens / seconds : 0;
        }
    }

    public static Summary run(Model model, BatchEngine.Options options, Path input, BatchFormat inFormat, Path output,
                              BatchFormat outFormat, boolean fsync, boolean progress, PrintStream log) {
        return run(new BatchEngine(model, options), input, inFormat, output, outFormat, fsync, progress, log);
    }

    public static Summary run(BatchEngine engine, Path input, BatchFormat inFormat, Path output, BatchFormat outFormat,
                              boolean fsync, boolean progress, PrintStream log) {
        ResultFile.Recovered rec = ResultFile.recover(output, outFormat);
        Set<String> done = new HashSet<>();
        for (BatchResult r : rec.results()) done.add(r.id());
        if (!rec.results().isEmpty() || rec.droppedBytes() > 0) {
            log.printf("resuming: %d results already in %s%s%n", rec.results().size(), output,
                    rec.droppedBytes() > 0 ? " (dropped a partial last record of " + rec.droppedBytes() + " bytes)" : "");
        }
        RequestFile.Contents in = RequestFile.read(input, inFormat);
        for (String p : in.problems()) log.println("warning: " + p);

        List<BatchRequest> todo = new ArrayList<>();
        for (BatchRequest r : in.requests()) if (!done.contains(r.id())) todo.add(r);
        List<BatchResult> rejected = new ArrayList<>();
        for (BatchResult r : in.rejected()) if (!done.contains(r.id())) rejected.add(r);
        int total = in.requests().size() + in.rejected().size();
        int already = total - todo.size() - rejected.size();

        long t0 = System.nanoTime();
        int[] errors = {0};
        long[] tokens = {0, 0};
        try (ResultFile out = ResultFile.append(output, outFormat, fsync)) {
            for (BatchResult r : rejected) {
                out.write(r);
                errors[0]++;
            }
            BatchProgress bar = progress ? new BatchProgress(log, already + rejected.size(), total) : null;
            try (bar) {   // a null resource is skipped
                engine.run(todo, r -> {
                    out.write(r);
                    if (r.isError()) {
                        errors[0]++;
                        log.println((progress ? "\r" : "") + "error: request '" + r.id() + "': " + r.error());
                    }
                }, (d, g, p, e) -> {
                    tokens[0] = p;
                    tokens[1] = g;
                    if (bar != null) bar.update(d, g, p, e);
                });
            }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        return new Summary(total, already, todo.size() + rejected.size(), errors[0], in.malformed(), in.duplicates(), tokens[0], tokens[1], secs);
    }

    private BatchJob() {}
}
