package dev.tiller.engine.batch;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;

class BatchProgressTest {

    @Test
    void countsEarlierRunsDoneAndShowsTheGeneratedRate() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (BatchProgress p = new BatchProgress(new PrintStream(buf, true, StandardCharsets.UTF_8), 2, 6)) {
            p.update(1, 100, 10, 1_000_000_000L);
            p.update(4, 300, 40, 2_000_000_000L);
        }
        String[] frames = buf.toString(StandardCharsets.UTF_8).split("\r");
        String last = frames[frames.length - 1].strip();
        assertTrue(last.contains("6/6") && last.contains("100%"), last);
        assertTrue(last.endsWith("150.0 tok/s"), last);
    }
}
