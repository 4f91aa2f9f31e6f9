package dev.tiller.loader.safetensors;

import dev.tiller.loader.GGMLType;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

class SafetensorsFileTest {
    @TempDir Path tmp;
    private int counter;

    /** A safetensors file from a literal header and data, built by hand as the format spec describes. */
    static byte[] raw(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        return b.array();
    }

    private Path file(byte[] bytes) throws Exception {
        Path p = tmp.resolve("f" + (counter++) + ".safetensors");
        Files.write(p, bytes);
        return p;
    }

    private String fails(byte[] bytes) throws Exception {
        Path p = file(bytes);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(p).close());
        assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
        return e.getMessage();
    }

    private static void assertMentions(String message, String... parts) {
        for (String part : parts) assertTrue(message.contains(part), "expected '" + part + "' in: " + message);
    }

    private static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return b.array();
    }

    @Test
    void readsAHandWrittenFile() throws Exception {
        // F32 [2,3] = 1..6, then BF16 [2] = {1.0, -2.0} (0x3F80, 0xC000), then F16 [1] = 0.5 (0x3800)
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        data.writeBytes(floats(1, 2, 3, 4, 5, 6));
        data.writeBytes(new byte[]{(byte) 0x80, 0x3F, 0x00, (byte) 0xC0});
        data.writeBytes(new byte[]{0x00, 0x38});
        String header = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[24,28]},"
                + "\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[28,30]},"
                + "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[30,30]}}";
        try (SafetensorsFile f = SafetensorsFile.open(file(raw(header, data.toByteArray())))) {
            assertEquals("pt", f.metadata().get("format"));
            Tensor w = f.tensor("w");
            assertEquals(GGMLType.F32, w.type());
            assertArrayEquals(new long[]{3, 2}, w.ne(), "ggml order: innermost first");
            assertArrayEquals(new float[]{1, 2, 3, 4, 5, 6}, w.data().toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN)));
            Tensor b = f.tensor("b");
            assertEquals(GGMLType.BF16, b.type());
            short[] bf = b.data().toArray(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
            assertEquals(1.0f, Float.intBitsToFloat((bf[0] & 0xFFFF) << 16));
            assertEquals(-2.0f, Float.intBitsToFloat((bf[1] & 0xFFFF) << 16));
            assertEquals(0.5f, Float.float16ToFloat(f.tensor("h").data().get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0)));
            assertEquals(0, f.tensor("e").elementCount());
            assertEquals(8 + header.length(), f.dataOffset());
        }
    }

    private static final String ONE = "\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    @Test
    void headerProblems() throws Exception {
        assertMentions(fails(new byte[5]), "not a safetensors file");
        byte[] pastEof = raw("{" + ONE + "}", new byte[8]);
        ByteBuffer.wrap(pastEof).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 10_000);
        assertMentions(fails(pastEof), "header length 10000", "past the end");
        byte[] huge = raw("{}", new byte[0]);
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 62);
        assertMentions(fails(huge), "header length 4611686018427387904", "not sane");
        byte[] negative = raw("{}", new byte[0]);
        ByteBuffer.wrap(negative).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -8);
        assertMentions(fails(negative), "header length 18446744073709551608");
        assertMentions(fails(raw("{\"t\": {", new byte[8])), "not valid JSON");
        assertMentions(fails(raw("[1,2]", new byte[0])), "not a JSON object");
        assertMentions(fails(raw("{" + ONE + "," + ONE + "}", new byte[8])), "not valid JSON", "Duplicate field 't'");
        assertMentions(fails(raw("{\"__metadata__\":{\"a\":1}}", new byte[0])), "__metadata__", "'a'", "not a string");
    }

    @Test
    void tensorEntryProblems() throws Exception {
        assertMentions(fails(raw("{\"t\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8])),
                "tensor 't'", "unknown dtype 'Q4'");
        assertMentions(fails(raw("{\"t\":{\"dtype\":\"I8\",\"shape\":[8],\"data_offsets\":[0,8]}}", new byte[8])),
                "tensor 't'", "unsupported dtype 'I8'");
        assertMentions(fails(raw("{\"t\":{\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8])), "tensor 't'", "'dtype'");
        assertMentions(fails(raw("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", new byte[8])), "tensor 't'", "'shape'");
        assertMentions(fails(raw("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", new byte[8])), "tensor 't'", "'data_offsets'", "expected 2");
        assertMentions(fails(raw("{\"t\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", new byte[8])), "tensor 't'", "'shape'[0] = -2");
        assertMentions(fails(raw("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", new byte[8])), "tensor 't'", "'data_offsets'[0] = -8");
        assertMentions(fails(raw("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}", new byte[8])), "tensor 't'", "data_offsets");
        assertMentions(fails(raw("{\"t\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", new byte[8])), "tensor 't'", "shape");
        assertMentions(fails(raw("{\"t\":5}", new byte[8])), "tensor 't'", "not a JSON object");
    }

    @Test
    void offsetProblems() throws Exception {
        assertMentions(fails(raw("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", new byte[8])),
                "tensor 't'", "out of range", "holds 8 bytes");
        assertMentions(fails(raw("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", new byte[8])), "tensor 't'", "reversed");
        assertMentions(fails(raw("{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8])),
                "tensor 't'", "[3]", "12 bytes", "span 8 bytes");
        assertMentions(fails(raw("{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", new byte[8])),
                "tensor 't'", "overflows");
        assertMentions(fails(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12])), "'a'", "'b'", "overlap");
        // a big tensor that contains two later ones: only a running maximum catches the second
        assertMentions(fails(raw("{\"big\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]},"
                + "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", new byte[32])), "overlap");
    }

    @Test
    void everyTruncationIsReported() throws Exception {
        byte[] full = raw("{" + ONE + "}", floats(1, 2));
        for (int len = 0; len < full.length; len++) {
            String m = fails(Arrays.copyOf(full, len));
            assertFalse(m.isEmpty());
        }
    }
}
