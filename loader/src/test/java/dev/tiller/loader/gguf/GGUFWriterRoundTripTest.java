package dev.tiller.loader.gguf;

import dev.tiller.loader.GGMLType;
import dev.tiller.loader.Tensor;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class GGUFWriterRoundTripTest {
    @TempDir Path tmp;

    @Test
    void everyMetadataTypeRoundTrips() {
        GGUFWriter w = new GGUFWriter()
                .putUInt8("u8", (byte) 0xFE).putInt8("i8", (byte) -3)
                .putUInt16("u16", (short) 0xFFFE).putInt16("i16", (short) -300)
                .putUInt32("u32", 0xFFFFFFF0).putInt32("i32", -70000)
                .putUInt64("u64", -2L).putInt64("i64", Long.MIN_VALUE)
                .putFloat32("f32", 1.5f).putFloat64("f64", Math.PI).putBool("t", true).putBool("f", false)
                .putString("s", "héllo ✓ 日本")
                .putString("empty", "")
                .put("a.u8", GGUFValue.array(GGUFValueType.UINT8, new byte[]{1, (byte) 255}))
                .put("a.i8", GGUFValue.array(GGUFValueType.INT8, new byte[]{-1, 2}))
                .put("a.u16", GGUFValue.array(GGUFValueType.UINT16, new short[]{1, (short) 65535}))
                .put("a.i16", GGUFValue.array(GGUFValueType.INT16, new short[]{-1, 2}))
                .put("a.u32", GGUFValue.array(GGUFValueType.UINT32, new int[]{-1, 7}))
                .putInt32Array("a.i32", new int[]{-5, 6, 7})
                .put("a.u64", GGUFValue.array(GGUFValueType.UINT64, new long[]{-1L, 9}))
                .put("a.i64", GGUFValue.array(GGUFValueType.INT64, new long[]{Long.MAX_VALUE}))
                .putFloat32Array("a.f32", new float[]{0.25f, -1e30f})
                .put("a.f64", GGUFValue.array(GGUFValueType.FLOAT64, new double[]{1e-300}))
                .put("a.bool", GGUFValue.array(GGUFValueType.BOOL, new boolean[]{true, false, true}))
                .putStringArray("a.str", new String[]{"a", "", "ü"})
                .put("a.empty", GGUFValue.array(GGUFValueType.INT32, new int[0]))
                .put("a.nested", GGUFValue.array(GGUFValueType.ARRAY, new GGUFValue[]{
                        GGUFValue.array(GGUFValueType.INT32, new int[]{1, 2}),
                        GGUFValue.array(GGUFValueType.STRING, new String[]{"x"}),
                        GGUFValue.array(GGUFValueType.ARRAY, new GGUFValue[]{GGUFValue.array(GGUFValueType.FLOAT32, new float[]{3f})})}));
        Path p = tmp.resolve("m.gguf");
        w.write(p);
        try (GGUFFile f = GGUFFile.open(p)) {
            GGUFMetadata m = f.metadata();
            assertEquals(3, f.version());
            assertEquals(0, f.tensors().size());
            assertEquals(w.metadata().keySet().stream().toList(), m.asMap().keySet().stream().toList());
            assertEquals(0xFE, m.getLong("u8"));
            assertEquals(-3, m.getLong("i8"));
            assertEquals(0xFFFE, m.getLong("u16"));
            assertEquals(-300, m.getLong("i16"));
            assertEquals(0xFFFFFFF0L, m.getLong("u32"));
            assertEquals(-70000, m.getLong("i32"));
            assertEquals(-2L, m.getLong("u64"));
            assertEquals(Long.MIN_VALUE, m.getLong("i64"));
            assertEquals(1.5, m.getDouble("f32"));
            assertEquals(Math.PI, m.getDouble("f64"));
            assertTrue(m.getBoolean("t", false));
            assertFalse(m.getBoolean("f", true));
            assertEquals("héllo ✓ 日本", m.getString("s"));
            assertEquals("", m.getString("empty"));
            assertArrayEquals(new int[]{1, 255}, m.getIntArray("a.u8"));
            assertArrayEquals(new int[]{-1, 2}, m.getIntArray("a.i8"));
            assertArrayEquals(new int[]{1, 65535}, m.getIntArray("a.u16"));
            assertArrayEquals(new int[]{-1, 2}, m.getIntArray("a.i16"));
            assertArrayEquals(new int[]{-1, 7}, (int[]) m.get("a.u32").value());
            assertEquals(GGUFValueType.UINT32, m.get("a.u32").elementType());
            assertArrayEquals(new int[]{-5, 6, 7}, m.getIntArray("a.i32"));
            assertArrayEquals(new long[]{-1L, 9}, (long[]) m.get("a.u64").value());
            assertArrayEquals(new long[]{Long.MAX_VALUE}, (long[]) m.get("a.i64").value());
            assertArrayEquals(new float[]{0.25f, -1e30f}, m.getFloatArray("a.f32"));
            assertArrayEquals(new double[]{1e-300}, (double[]) m.get("a.f64").value());
            assertArrayEquals(new boolean[]{true, false, true}, (boolean[]) m.get("a.bool").value());
            assertArrayEquals(new String[]{"a", "", "ü"}, m.getStringArray("a.str"));
            assertEquals(0, m.getIntArray("a.empty").length);
            GGUFValue[] nested = (GGUFValue[]) m.get("a.nested").value();
            assertEquals(3, nested.length);
            assertArrayEquals(new int[]{1, 2}, (int[]) nested[0].value());
            assertArrayEquals(new String[]{"x"}, (String[]) nested[1].value());
            GGUFValue[] deeper = (GGUFValue[]) nested[2].value();
            assertArrayEquals(new float[]{3f}, (float[]) deeper[0].value());
        }
    }

    @Test
    void everyTensorTypeRoundTripsWithAlignment() throws Exception {
        for (int alignment : new int[]{32, 64, 1}) {
            GGUFWriter w = new GGUFWriter().putUInt32("general.alignment", alignment);
            Random rnd = new Random(alignment);
            java.util.Map<String, byte[]> expected = new java.util.LinkedHashMap<>();
            for (GGMLType t : GGMLType.values()) {
                long[] ne = {t.blockSize * 2L, 3};
                byte[] data = new byte[(int) t.byteSize(ne[0] * ne[1])];
                rnd.nextBytes(data);
                w.addTensor("t." + t, t, ne, data);
                expected.put("t." + t, data);
            }
            w.addTensor("vec", GGMLType.F32, new long[]{5}, new byte[20]);
            w.addTensor("4d", GGMLType.F16, new long[]{2, 3, 4, 5}, new byte[2 * 120]);
            Path p = tmp.resolve("t" + alignment + ".gguf");
            w.write(p);
            try (GGUFFile f = GGUFFile.open(p)) {
                assertEquals(alignment, f.alignment());
                assertEquals(0, f.dataOffset() % alignment);
                assertEquals(GGMLType.values().length + 2, f.tensors().size());
                for (GGMLType t : GGMLType.values()) {
                    Tensor tensor = f.tensor("t." + t);
                    assertEquals(t, tensor.type());
                    assertArrayEquals(new long[]{t.blockSize * 2L, 3}, tensor.ne());
                    assertArrayEquals(expected.get("t." + t), tensor.data().toArray(ValueLayout.JAVA_BYTE), "tensor " + t);
                    assertEquals(0, (tensor.data().address() - f.tensors().get("t.F32").data().address()) % alignment);
                }
                assertArrayEquals(new long[]{2, 3, 4, 5}, f.tensor("4d").ne());
                assertEquals(5, f.tensor("vec").elementCount());
            }
            assertEquals(0, Files.size(p) % alignment, "file ends padded");
        }
    }

    @Test
    void streamingTensorMustWriteItsExactSize() {
        GGUFWriter w = new GGUFWriter().addTensor("short", GGMLType.F32, new long[]{4}, out -> out.write(new byte[12]));
        Path p = tmp.resolve("bad.gguf");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> w.write(p));
        assertTrue(e.getMessage().contains("'short'") && e.getMessage().contains("16"), e.getMessage());
        assertFalse(Files.exists(p), "a half-written file is removed");
    }

    @Test
    void writerRejectsBadInput() {
        GGUFWriter w = new GGUFWriter();
        assertThrows(IllegalArgumentException.class, () -> w.put("k", GGUFValue.of(GGUFValueType.UINT32, "not an int")));
        assertThrows(IllegalArgumentException.class, () -> w.put("k", GGUFValue.array(GGUFValueType.FLOAT32, new int[1])));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("q", GGMLType.Q8_0, new long[]{31}, new byte[34]));
        w.addTensor("x", GGMLType.F32, new long[]{1}, new byte[4]);
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("x", GGMLType.F32, new long[]{1}, new byte[4]));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("y", GGMLType.F32, new long[]{2}, new byte[4]));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("z", GGMLType.F32, new long[]{1, 1, 1, 1, 1}, new byte[4]));
    }

    @Test
    void copiesAFileThroughTheWriter() throws Exception {
        Path src = Shared.stories260K();
        Path copy = tmp.resolve("copy.gguf");
        try (GGUFFile f = GGUFFile.open(src)) {
            GGUFWriter w = new GGUFWriter();
            f.metadata().asMap().forEach(w::put);
            f.tensors().values().forEach(w::addTensor);
            w.write(copy);
        }
        // llama.cpp wrote the original with the same layout rules, so the copy is byte-identical
        assertEquals(-1L, Files.mismatch(src, copy));
    }
}
