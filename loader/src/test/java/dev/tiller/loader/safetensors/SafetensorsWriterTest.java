package dev.tiller.loader.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.loader.GGMLType;
import dev.tiller.loader.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class SafetensorsWriterTest {
    @TempDir Path tmp;

    private static SafetensorsWriter sample(Random rnd) {
        SafetensorsWriter w = new SafetensorsWriter().putMetadata("format", "pt");
        for (int i = 0; i < 5; i++) {
            byte[] a = new byte[4 * 3 * (i + 1)];
            rnd.nextBytes(a);
            w.add("f32." + i, GGMLType.F32, new long[]{i + 1, 3}, a);
            byte[] b = new byte[2 * 7];
            rnd.nextBytes(b);
            w.add("bf16." + i, GGMLType.BF16, new long[]{7}, b);
            byte[] c = new byte[2 * 2 * 2 * 3];
            rnd.nextBytes(c);
            w.add("f16." + i, GGMLType.F16, new long[]{2, 2, 3}, c);
        }
        return w;
    }

    @Test
    void writesWhatTheReaderReads() throws Exception {
        Path p = tmp.resolve("a.safetensors");
        new SafetensorsWriter().add("w", GGMLType.F32, new long[]{2, 3},
                ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putFloat(1).putFloat(2).putFloat(3).putFloat(4).putFloat(5).putFloat(6).array()).write(p);
        byte[] bytes = Files.readAllBytes(p);
        long headerLen = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertEquals(0, (8 + headerLen) % 8, "data area 8-byte aligned");
        JsonNode header = new ObjectMapper().readTree(new String(bytes, 8, (int) headerLen));
        assertEquals("F32", header.at("/w/dtype").asText());
        assertEquals("[2,3]", header.at("/w/shape").toString());
        assertEquals("[0,24]", header.at("/w/data_offsets").toString());
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertArrayEquals(new long[]{3, 2}, f.tensor("w").ne());
            assertEquals(6f, f.tensor("w").data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 5));
        }
    }

    @Test
    void shardedAndSingleHoldIdenticalBytes() throws Exception {
        Path single = tmp.resolve("single.safetensors");
        sample(new Random(7)).write(single);
        Path dir = Files.createDirectories(tmp.resolve("sharded"));
        List<Path> shards = sample(new Random(7)).writeSharded(dir, 100);
        assertTrue(shards.size() > 2, "several shards: " + shards.size());
        assertEquals("model-00001-of-0000" + shards.size() + ".safetensors", shards.getFirst().getFileName().toString());
        JsonNode index = new ObjectMapper().readTree(dir.resolve("model.safetensors.index.json").toFile());
        try (SafetensorsFile s = SafetensorsFile.open(single)) {
            long total = 0;
            for (Tensor t : s.tensors().values()) {
                String shard = index.at("/weight_map/" + t.name()).asText();
                assertFalse(shard.isEmpty(), t.name());
                try (SafetensorsFile f = SafetensorsFile.open(dir.resolve(shard))) {
                    Tensor u = f.tensor(t.name());
                    assertEquals(t.type(), u.type());
                    assertArrayEquals(t.ne(), u.ne());
                    assertEquals(-1, t.data().mismatch(u.data()), t.name());
                }
                total += t.data().byteSize();
            }
            assertEquals(total, index.at("/metadata/total_size").asLong());
            assertEquals(s.tensors().size(), index.get("weight_map").size());
        }
    }

    @Test
    void rejectsWhatSafetensorsCannotHold() {
        SafetensorsWriter w = new SafetensorsWriter();
        assertThrows(IllegalArgumentException.class, () -> w.add("q", GGMLType.Q8_0, new long[]{32}, new byte[34]));
        assertThrows(IllegalArgumentException.class, () -> w.add("x", GGMLType.F32, new long[]{2}, new byte[4]));
        w.add("x", GGMLType.F32, new long[]{1}, new byte[4]);
        assertThrows(IllegalArgumentException.class, () -> w.add("x", GGMLType.F32, new long[]{1}, new byte[4]));
    }
}
