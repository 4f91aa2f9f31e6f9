package dev.tiller.loader.hf;

import dev.tiller.loader.ModelFormatException;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class HFConfigTest {
    @TempDir Path tmp;

    @Test
    void readsTheRealQwenConfig() {
        HFConfig c = HFConfig.read(Shared.resolve("tokenizers/qwen2.5/config.json"));
        assertEquals(896, c.requireInt("hidden_size"));
        assertEquals(24, c.requireInt("num_hidden_layers"));
        assertEquals(1e6, c.requireDouble("rope_theta"));
        assertEquals(1e-6, c.requireDouble("rms_norm_eps"));
        assertTrue(c.requireBoolean("tie_word_embeddings"));
        assertEquals("qwen2", c.requireString("model_type"));
        assertEquals("Qwen2ForCausalLM", c.architecture());
        assertNull(c.getObject("rope_scaling"), "JSON null counts as absent");
        assertEquals(128, c.getInt("head_dim", 128));
    }

    @Test
    void missingAndMistypedKeysNameFileAndKey() throws Exception {
        Path p = tmp.resolve("config.json");
        Files.writeString(p, "{\"hidden_size\": \"big\", \"num_heads\": 2.5, \"rope_scaling\": null, \"n\": 99999999999}");
        HFConfig c = HFConfig.read(p);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> c.requireInt("intermediate_size"));
        assertEquals(p + ": missing key 'intermediate_size'", e.getMessage());
        e = assertThrows(ModelFormatException.class, () -> c.requireInt("hidden_size"));
        assertTrue(e.getMessage().contains("'hidden_size'") && e.getMessage().contains("not a 32-bit integer"), e.getMessage());
        assertThrows(ModelFormatException.class, () -> c.requireInt("num_heads"));
        assertThrows(ModelFormatException.class, () -> c.requireInt("n"));
        assertEquals(99999999999L, c.requireLong("n"));
        e = assertThrows(ModelFormatException.class, () -> c.requireDouble("rope_scaling"));
        assertTrue(e.getMessage().contains("missing key 'rope_scaling'"));
        assertThrows(ModelFormatException.class, () -> c.architecture());
    }

    @Test
    void badFiles() throws Exception {
        Path p = tmp.resolve("config.json");
        Files.writeString(p, "{\"a\": ");
        assertTrue(assertThrows(ModelFormatException.class, () -> HFConfig.read(p)).getMessage().contains("not valid JSON"));
        Files.writeString(p, "[]");
        assertTrue(assertThrows(ModelFormatException.class, () -> HFConfig.read(p)).getMessage().contains("not a JSON object"));
        assertTrue(assertThrows(ModelFormatException.class, () -> HFConfig.read(tmp.resolve("nope.json"))).getMessage().contains("no such file"));
    }
}
