package dev.tiller.engine.batch;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;

/**
 * The batch job's progress line on stderr, drawn by the progressbar library: requests done of all, elapsed time, ETA
 * (from this run's pace: requests already in the output from an earlier run do not count toward it), and the generated
 * tokens per second.
 */
final class BatchProgress implements BatchEngine.Progress, AutoCloseable {
    private final ProgressBar bar;
    private final int alreadyDone;

    BatchProgress(PrintStream err, int alreadyDone, int total) {
        this.alreadyDone = alreadyDone;
        this.bar = new ProgressBarBuilder()
                .setTaskName("batch")
                .setInitialMax(total)
                .setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(250)
                .setConsumer(new ConsoleProgressBarConsumer(err, 100))
                .startsFrom(alreadyDone, Duration.ZERO)
                .build();
    }

    @Override
    public void update(int done, long generatedTokens, long promptTokens, long elapsedNanos) {
        double secs = elapsedNanos / 1e9;
        bar.setExtraMessage(String.format(Locale.ROOT, "%.1f tok/s", secs > 0 ? generatedTokens / secs : 0));
        bar.stepTo(alreadyDone + done);
    }

    @Override
    public void close() {
        bar.close();
    }
}
