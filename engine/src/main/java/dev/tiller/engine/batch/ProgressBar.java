package dev.tiller.engine.batch;

import java.io.PrintStream;

/** A one-line progress bar on stderr: done/total, generated tok/s, ETA; redrawn at most four times a second. */
public final class ProgressBar implements BatchEngine.Progress {
    private final PrintStream err;
    private final int alreadyDone;
    private final int total;
    private long lastDraw;
    private boolean ended;

    public ProgressBar(PrintStream err, int alreadyDone, int total) {
        this.err = err;
        this.alreadyDone = alreadyDone;
        this.total = total;
    }

    @Override
    public void update(int done, long generatedTokens, long promptTokens, long elapsedNanos) {
        long now = System.nanoTime();
        boolean last = alreadyDone + done >= total;
        if (!last && now - lastDraw < 250_000_000L) return;
        if (ended) return;
        lastDraw = now;
        err.print("\r" + line(alreadyDone + done, total, done, generatedTokens, elapsedNanos));
        if (last) {
            err.println();
            ended = true;
        }
        err.flush();
    }

    static String line(int done, int total, int doneThisRun, long generated, long elapsedNanos) {
        double secs = elapsedNanos / 1e9;
        int width = 30;
        int filled = total == 0 ? width : (int) ((long) width * done / total);
        StringBuilder b = new StringBuilder();
        b.append(String.format("%d/%d [", done, total));
        for (int i = 0; i < width; i++) b.append(i < filled ? '=' : i == filled ? '>' : ' ');
        b.append(String.format("] %3d%%  %.1f tok/s", total == 0 ? 100 : 100L * done / total, secs > 0 ? generated / secs : 0));
        int remaining = total - done;
        if (doneThisRun > 0 && remaining > 0) b.append("  ETA ").append(clock(secs / doneThisRun * remaining));
        else b.append("  ").append(clock(secs));
        b.append("   ");
        return b.toString();
    }

    static String clock(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String.format("%d:%02d", s / 60, s % 60);
    }
}
