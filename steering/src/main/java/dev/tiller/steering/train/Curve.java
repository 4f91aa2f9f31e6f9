package dev.tiller.steering.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The training curve: one row per step, written as CSV ({@code tiller train} also draws it as a PNG beside the CSV). */
public final class Curve {
    public record Point(int step, double loss, double reward, double gradNorm, double lr, long tokens, double seconds) {}

    private final List<Point> points = new ArrayList<>();

    public void add(Point p) {
        points.add(p);
    }

    public List<Point> points() {
        return points;
    }

    public void writeCsv(Path csv) {
        StringBuilder sb = new StringBuilder("step,loss,reward,grad_norm,lr,tokens,seconds\n");
        for (Point p : points) {
            sb.append(String.format(Locale.ROOT, "%d,%.6f,%s,%.6f,%.6g,%d,%.3f%n", p.step, p.loss,
                    Double.isNaN(p.reward) ? "" : String.format(Locale.ROOT, "%.6f", p.reward), p.gradNorm, p.lr, p.tokens, p.seconds));
        }
        try {
            Files.writeString(csv, sb);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
