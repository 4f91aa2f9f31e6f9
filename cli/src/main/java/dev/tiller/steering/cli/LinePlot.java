package dev.tiller.steering.cli;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;

/** A small PNG line plot (java.awt, headless): one or more series over shared x values, with axes and a legend. */
final class LinePlot {

    record Series(String name, double[] y, Color color) {}

    static void write(Path out, String title, String xLabel, String yLabel, double[] x, List<Series> series) {
        System.setProperty("java.awt.headless", "true");
        int w = 720, h = 440, left = 70, right = 20, top = 40, bottom = 60;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        double xmin = min(x), xmax = max(x), ymin = Double.MAX_VALUE, ymax = -Double.MAX_VALUE;
        for (Series s : series) {
            ymin = Math.min(ymin, min(s.y));
            ymax = Math.max(ymax, max(s.y));
        }
        if (ymax - ymin < 1e-9) { ymin -= 1; ymax += 1; }
        double pad = (ymax - ymin) * 0.08;
        ymin -= pad;
        ymax += pad;
        if (xmax - xmin < 1e-9) { xmin -= 1; xmax += 1; }
        int pw = w - left - right, ph = h - top - bottom;
        final double fxmin = xmin, fxmax = xmax, fymin = ymin, fymax = ymax;
        java.util.function.DoubleUnaryOperator px = v -> left + (v - fxmin) / (fxmax - fxmin) * pw;
        java.util.function.DoubleUnaryOperator py = v -> top + ph - (v - fymin) / (fymax - fymin) * ph;
        g.setColor(new Color(235, 235, 235));
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        for (int i = 0; i <= 5; i++) {
            double yv = ymin + (ymax - ymin) * i / 5;
            int yy = (int) py.applyAsDouble(yv);
            g.setColor(new Color(235, 235, 235));
            g.drawLine(left, yy, left + pw, yy);
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.format("%.2f", yv), 8, yy + 4);
        }
        for (double xv : x) {
            int xx = (int) px.applyAsDouble(xv);
            g.setColor(Color.DARK_GRAY);
            g.drawLine(xx, top + ph, xx, top + ph + 4);
            String lbl = String.format("%.2f", xv);
            g.drawString(lbl, xx - g.getFontMetrics().stringWidth(lbl) / 2, top + ph + 18);
        }
        g.setColor(Color.BLACK);
        g.drawRect(left, top, pw, ph);
        if (ymin < 0 && ymax > 0) {
            g.setColor(Color.GRAY);
            int y0 = (int) py.applyAsDouble(0);
            g.drawLine(left, y0, left + pw, y0);
        }
        g.setStroke(new BasicStroke(2f));
        int ly = top + 16;
        for (Series s : series) {
            g.setColor(s.color);
            for (int i = 0; i < x.length; i++) {
                int xx = (int) px.applyAsDouble(x[i]), yy = (int) py.applyAsDouble(s.y[i]);
                g.fillOval(xx - 3, yy - 3, 7, 7);
                if (i > 0) g.drawLine((int) px.applyAsDouble(x[i - 1]), (int) py.applyAsDouble(s.y[i - 1]), xx, yy);
            }
            g.drawLine(left + 12, ly - 4, left + 32, ly - 4);
            g.setColor(Color.BLACK);
            g.drawString(s.name, left + 38, ly);
            ly += 16;
        }
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(title, left, 24);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawString(xLabel, left + pw / 2 - g.getFontMetrics().stringWidth(xLabel) / 2, h - 20);
        g.rotate(-Math.PI / 2);
        g.drawString(yLabel, -(top + ph / 2) - g.getFontMetrics().stringWidth(yLabel) / 2, 14);
        g.dispose();
        try {
            ImageIO.write(img, "png", out.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("--plot " + out + ": " + e.getMessage(), e);
        }
    }

    private static double min(double[] a) {
        double m = Double.MAX_VALUE;
        for (double v : a) m = Math.min(m, v);
        return m;
    }

    private static double max(double[] a) {
        double m = -Double.MAX_VALUE;
        for (double v : a) m = Math.max(m, v);
        return m;
    }

    private LinePlot() {}
}
