package dev.tiller.testsupport;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class TestSupportTest {

    @Test
    void floatsAreLittleEndian(@TempDir Path dir) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f).putFloat(3.25e-3f);
        Path f = Files.write(dir.resolve("x.f32"), b.array());
        assertArrayEquals(new float[] {1.5f, -2f, 3.25e-3f}, Reference.floats(f));
        Files.write(f, new byte[] {0, 0, 0, 0, 1});
        assertThrows(IllegalArgumentException.class, () -> Reference.floats(f));
    }

    @Test
    void intsReadTokenArrays() throws Exception {
        var m = new ObjectMapper();
        assertArrayEquals(new int[] {1, 15043, 0}, Reference.ints(m.readTree("[1, 15043, 0]")));
        assertArrayEquals(new int[0], Reference.ints(m.readTree("[]")));
        assertThrows(IllegalArgumentException.class, () -> Reference.ints(m.readTree("[1, 2.5]")));
        assertThrows(IllegalArgumentException.class, () -> Reference.ints(m.readTree("{\"a\": 1}")));
    }

    @Test
    void argmaxTakesTheFirstLargestWithinTheRow() {
        assertEquals(2, Logits.argmax(new float[] {0f, 1f, 3f, 3f, -1f}));
        assertEquals(1, Logits.argmax(new float[] {0f, 1f, 3f}, 2));
        assertEquals(0, Logits.argmax(new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY}));
        assertThrows(IllegalArgumentException.class, () -> Logits.argmax(new float[0]));
    }

    @Test
    void sharedPathsResolveBelowTheFolder() {
        assertEquals(Shared.DIR.resolve("models/stories260K.gguf"), Shared.stories260K());
        assertEquals(Shared.DIR.resolve("reference/stories260K/tom.json"), Shared.reference("stories260K", "tom.json"));
    }
}
