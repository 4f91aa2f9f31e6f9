package dev.tiller.steering.cli;

import dev.tiller.steering.train.Curve;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class LinePlotTest {

    @Test
    void aSweepPlotIsAPngWithItsNumbersBesideIt(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("sweep.png");
        double[] x = {-0.6f, 0, 0.6f};   // a sweep's scales are floats
        LinePlot.write(png, "happy, with a long title that must not be cut off — happy_mean.gguf", "steering scale", "score",
                x, List.of(new LinePlot.Series("happy, share", new double[] {0.1, 0.4, 0.9}, Color.RED),
                        new LinePlot.Series("sad", new double[] {0.8, 0.3, 0.05}, Color.BLUE)));
        BufferedImage img = ImageIO.read(png.toFile());
        assertNotNull(img, "not a PNG");
        assertEquals(900, img.getWidth());
        assertEquals(520, img.getHeight());
        assertEquals(List.of("\"steering scale\",\"happy, share\",sad", "-0.6,0.1,0.8", "0.0,0.4,0.3", "0.6,0.9,0.05"),
                Files.readAllLines(dir.resolve("sweep.csv")));
    }

    @Test
    void aTrainingCurveWithRewardsIsDrawn(@TempDir Path dir) throws Exception {
        Curve c = new Curve();
        for (int s = 1; s <= 20; s++) c.add(new Curve.Point(s, 3.0 / s, s / 20.0, 1, 0.05, 100L * s, s));
        Path png = dir.resolve("run.png");
        LinePlot.curve(png, "tiller train --objective grpo on stories260K.gguf", c);
        BufferedImage img = ImageIO.read(png.toFile());
        assertNotNull(img, "not a PNG");
        assertEquals(900, img.getWidth());
        assertEquals(dir.resolve("run.csv"), LinePlot.csvBeside(png));
    }
}
