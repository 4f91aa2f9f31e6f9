package dev.tiller.steering.cli;

import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import dev.tiller.steering.train.Curve;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.XYStyler;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.Color;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** PNG line plots drawn by XChart, each with the plotted numbers as a CSV beside it (same name, {@code .csv}). */
final class LinePlot {

    record Series(String name, double[] y, Color color) {}

    /** One or more series over shared x values (a sweep's scores per scale); writes PNG and CSV. */
    static void write(Path out, String title, String xLabel, String yLabel, double[] x, List<Series> series) {
        XYChart chart = chart(title, xLabel, yLabel);
        for (Series s : series) {
            XYSeries xy = chart.addSeries(s.name(), x, s.y());
            xy.setMarker(SeriesMarkers.CIRCLE);
            xy.setLineColor(s.color());
            xy.setMarkerColor(s.color());
        }
        save(chart, out);
        List<String> header = new ArrayList<>(List.of(xLabel));
        for (Series s : series) header.add(s.name());
        List<Object[]> rows = new ArrayList<>();
        for (int i = 0; i < x.length; i++) {
            Object[] row = new Object[series.size() + 1];
            row[0] = number(x[i]);
            for (int j = 0; j < series.size(); j++) row[j + 1] = number(series.get(j).y()[i]);
            rows.add(row);
        }
        writeCsv(csvBeside(out), header, rows);
    }

    /**
     * A training curve: loss per step on the left axis, mean reward on the right one when the objective has a reward.
     * The curve's own CSV (every column of every step) is written beside it by {@link Curve#writeCsv}.
     */
    static void curve(Path out, String title, Curve curve) {
        XYChart chart = chart(title, "step", "loss");
        double[] steps = curve.points().stream().mapToDouble(Curve.Point::step).toArray();
        XYSeries loss = chart.addSeries("loss", steps, curve.points().stream().mapToDouble(Curve.Point::loss).toArray());
        loss.setMarker(SeriesMarkers.NONE);
        loss.setLineColor(new Color(214, 39, 40));
        if (curve.points().stream().anyMatch(p -> !Double.isNaN(p.reward()))) {
            XYSeries reward = chart.addSeries("mean reward (right axis)", steps, curve.points().stream().mapToDouble(Curve.Point::reward).toArray());
            reward.setMarker(SeriesMarkers.NONE);
            reward.setLineColor(new Color(31, 119, 180));
            reward.setYAxisGroup(1);
            chart.setYAxisGroupTitle(1, "mean reward");
            chart.getStyler().setYAxisGroupPosition(1, Styler.YAxisPosition.Right);
        }
        save(chart, out);
    }

    /** A value that is exactly a float (a sweep's scales are) written as the float: 0.6, not 0.6000000238418579. */
    private static Number number(double v) {
        return (double) (float) v == v ? (Number) (float) v : (Number) v;
    }

    /** {@code FILE.csv} beside {@code FILE.png} (or beside FILE, whatever its extension). */
    static Path csvBeside(Path png) {
        String name = png.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return png.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + ".csv");
    }

    private static XYChart chart(String title, String xLabel, String yLabel) {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(900).height(520).title(title).xAxisTitle(xLabel).yAxisTitle(yLabel).build();
        XYStyler s = chart.getStyler();
        s.setLegendPosition(Styler.LegendPosition.OutsideS);
        s.setLegendLayout(Styler.LegendLayout.Horizontal);
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotBackgroundColor(Color.WHITE);
        s.setPlotGridLinesColor(new Color(225, 225, 225));
        s.setPlotBorderVisible(false);
        s.setAntiAlias(true);
        return chart;
    }

    private static void save(XYChart chart, Path out) {
        try (OutputStream os = Files.newOutputStream(out)) {
            BitmapEncoder.saveBitmap(chart, os, BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException("plot " + out + ": " + e.getMessage(), e);
        }
    }

    private static void writeCsv(Path csv, List<String> header, List<Object[]> rows) {
        CsvSchema.Builder schema = CsvSchema.builder().setUseHeader(true);
        for (String h : header) schema.addColumn(h);
        try (var w = new CsvMapper().writer(schema.build()).writeValues(csv.toFile())) {
            for (Object[] row : rows) w.write(row);
        } catch (IOException e) {
            throw new UncheckedIOException("plot data " + csv + ": " + e.getMessage(), e);
        }
    }

    private LinePlot() {}
}
