package dev.tiller.steering.train;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The training curve: one row per step, written as CSV and drawn as a PNG (loss, and reward when there is one). */
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

    public void writePng(Path png, String title) {
        int W = 800, H = 450, L = 70, R = 70, T = 40, B = 50;
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, W, H);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawRect(L, T, W - L - R, H - T - B);
        g.drawString(title, L, T - 15);
        g.drawString("step", W / 2, H - 15);
        if (!points.isEmpty()) {
            int maxStep = Math.max(1, points.get(points.size() - 1).step);
            series(g, p -> p.loss, new Color(200, 40, 40), "loss", L, T, W - L - R, H - T - B, maxStep, true);
            boolean hasReward = points.stream().anyMatch(p -> !Double.isNaN(p.reward));
            if (hasReward) series(g, p -> p.reward, new Color(30, 90, 200), "reward", L, T, W - L - R, H - T - B, maxStep, false);
            g.setColor(Color.BLACK);
            g.drawString("0", L, H - B + 15);
            g.drawString(Integer.toString(maxStep), W - R - 20, H - B + 15);
        }
        g.dispose();
        try {
            ImageIO.write(img, "png", png.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void series(Graphics2D g, java.util.function.ToDoubleFunction<Point> f, Color color, String name, int x0, int y0, int w, int h,
                        int maxStep, boolean leftAxis) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (Point p : points) {
            double v = f.applyAsDouble(p);
            if (Double.isFinite(v)) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        if (!Double.isFinite(lo)) return;
        if (hi - lo < 1e-12) { hi += 0.5; lo -= 0.5; }
        g.setColor(color);
        g.setStroke(new BasicStroke(1.5f));
        int px = -1, py = -1;
        for (Point p : points) {
            double v = f.applyAsDouble(p);
            if (!Double.isFinite(v)) continue;
            int x = x0 + (int) Math.round(w * p.step / (double) maxStep);
            int y = y0 + h - (int) Math.round(h * (v - lo) / (hi - lo));
            if (px >= 0) g.drawLine(px, py, x, y);
            px = x;
            py = y;
        }
        int ax = leftAxis ? 5 : x0 + w + 5;
        g.drawString(String.format(Locale.ROOT, "%.3g", hi), ax, y0 + 10);
        g.drawString(String.format(Locale.ROOT, "%.3g", lo), ax, y0 + h);
        g.drawString(name, ax, y0 + h / 2);
    }
}
