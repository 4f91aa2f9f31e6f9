package dev.tiller.loader.hf;

import dev.tiller.loader.GGMLType;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.safetensors.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class HFModelFolderTest {
    @TempDir Path tmp;

    /** A stand-in for an architecture's HF-to-GGUF names (the loader itself knows none). */
    private static final Map<String, String> NAMES = Map.of(
            "model.embed_tokens.weight", "token_embd.weight",
            "model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight",
            "model.layers.0.self_attn.q_proj.bias", "blk.0.attn_q.bias",
            "model.norm.weight", "output_norm.weight");

    private static String rename(String hf) {
        return NAMES.getOrDefault(hf, hf);
    }

    @Test
    void namesAreKeptOrRenamedAsTheCallerSays() throws Exception {
        weights().write(tmp.resolve("model.safetensors"));
        try (HFModelFolder f = HFModelFolder.open(tmp)) {
            assertNotNull(f.tensor("model.layers.0.self_attn.q_proj.weight"));
        }
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> HFModelFolder.open(tmp, n -> "same"));
        assertTrue(e.getMessage().contains("'same'"), e.getMessage());
    }

    private static SafetensorsWriter weights() {
        return new SafetensorsWriter()
                .add("model.embed_tokens.weight", GGMLType.F32, new long[]{10, 4}, new byte[160])
                .add("model.layers.0.self_attn.q_proj.weight", GGMLType.BF16, new long[]{4, 4}, new byte[32])
                .add("model.layers.0.self_attn.q_proj.bias", GGMLType.F16, new long[]{4}, new byte[8])
                .add("model.norm.weight", GGMLType.F32, new long[]{4}, new byte[16])
                .add("extra.thing", GGMLType.F32, new long[]{1}, new byte[4]);
    }

    @Test
    void singleFileFolder() throws Exception {
        weights().write(tmp.resolve("model.safetensors"));
        Files.writeString(tmp.resolve("config.json"), "{\"hidden_size\": 4}");
        try (HFModelFolder f = HFModelFolder.open(tmp, HFModelFolderTest::rename)) {
            assertEquals(5, f.tensors().size());
            assertArrayEquals(new long[]{4, 10}, f.tensor("token_embd.weight").ne());
            assertEquals(GGMLType.BF16, f.tensor("blk.0.attn_q.weight").type());
            assertEquals(GGMLType.F16, f.tensor("blk.0.attn_q.bias").type());
            assertNotNull(f.tensor("output_norm.weight"));
            assertNotNull(f.tensor("extra.thing"));
            assertEquals("blk.0.attn_q.weight", f.tensor("blk.0.attn_q.weight").name());
            assertEquals(4, f.config().requireInt("hidden_size"));
            assertTrue(assertThrows(ModelFormatException.class, () -> f.tensor("output.weight")).getMessage().contains("'output.weight'"));
        }
    }

    @Test
    void shardedFolderMatchesSingle() throws Exception {
        Path single = Files.createDirectories(tmp.resolve("single"));
        Path sharded = Files.createDirectories(tmp.resolve("sharded"));
        weights().write(single.resolve("model.safetensors"));
        assertEquals(3, weights().writeSharded(sharded, 40).size());
        try (HFModelFolder a = HFModelFolder.open(single); HFModelFolder b = HFModelFolder.open(sharded)) {
            assertFalse(a.hasConfig());
            assertEquals(a.tensors().keySet(), b.tensors().keySet());
            a.tensors().forEach((name, t) -> assertEquals(-1, t.data().mismatch(b.tensor(name).data()), name));
        }
    }

    @Test
    void badFolders() throws Exception {
        assertTrue(assertThrows(ModelFormatException.class, () -> HFModelFolder.open(tmp)).getMessage().contains("no model.safetensors"));
        weights().writeSharded(tmp, 40);
        Files.writeString(tmp.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"model.norm.weight\": \"model-00001-of-00003.safetensors\"}}");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> HFModelFolder.open(tmp));
        assertTrue(e.getMessage().contains("'model.norm.weight'") && e.getMessage().contains("does not hold it"), e.getMessage());
        Files.writeString(tmp.resolve("model.safetensors.index.json"), "{\"weight_map\": {\"x\": \"../evil.safetensors\"}}");
        assertTrue(assertThrows(ModelFormatException.class, () -> HFModelFolder.open(tmp)).getMessage().contains("outside the folder"));
        Files.writeString(tmp.resolve("model.safetensors.index.json"), "{\"nothing\": 1}");
        assertTrue(assertThrows(ModelFormatException.class, () -> HFModelFolder.open(tmp)).getMessage().contains("weight_map"));
        Files.writeString(tmp.resolve("model.safetensors.index.json"), "{\"weight_map\": {\"x\": \"missing.safetensors\"}}");
        assertTrue(assertThrows(ModelFormatException.class, () -> HFModelFolder.open(tmp)).getMessage().contains("no such file"));
    }
}
