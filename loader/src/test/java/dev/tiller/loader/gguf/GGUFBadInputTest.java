package dev.tiller.loader.gguf;

import dev.tiller.loader.GGMLType;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/** Every malformed GGUF gives a ModelFormatException that says what is wrong; none crashes or reads out of bounds. */
class GGUFBadInputTest {
    @TempDir Path tmp;
    private int counter;

    private Path file(byte[] bytes) throws Exception {
        Path p = tmp.resolve("f" + (counter++) + ".gguf");
        Files.write(p, bytes);
        return p;
    }

    private String fails(byte[] bytes) throws Exception {
        Path p = file(bytes);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> GGUFFile.open(p).close());
        assertTrue(e.getMessage().contains(p.toString()), "message names the file: " + e.getMessage());
        return e.getMessage();
    }

    private static void assertMentions(String message, String... parts) {
        for (String part : parts) assertTrue(message.contains(part), "expected '" + part + "' in: " + message);
    }

    /** A small valid file: two metadata keys (one string array), two tensors. */
    private static byte[] small() {
        RawGGUF g = new RawGGUF().header(3, 2, 2)
                .str("general.architecture").u32(8).str("llama")
                .str("tokenizer.ggml.tokens").u32(9).u32(8).u64(2).str("a").str("bc")
                .tensorInfo("w", new long[]{4, 2}, 0, 0)
                .tensorInfo("b", new long[]{4}, 1, 32);
        g.padTo(32);
        g.bytes(new byte[32]); // w: 8 floats
        g.bytes(new byte[8]);  // b: 4 halves
        return g.build();
    }

    @Test
    void theBaselineIsValid() throws Exception {
        try (GGUFFile f = GGUFFile.open(file(small()))) {
            assertEquals(2, f.tensors().size());
            assertArrayEquals(new String[]{"a", "bc"}, f.metadata().getStringArray("tokenizer.ggml.tokens"));
        }
    }

    @Test
    void everyTruncationIsReported() throws Exception {
        byte[] full = small();
        Path p = tmp.resolve("cut.gguf");
        for (int len = 0; len < full.length; len++) {
            Files.write(p, Arrays.copyOf(full, len));
            int l = len;
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> GGUFFile.open(p).close(), "prefix " + len);
            assertTrue(e.getMessage().contains("truncated") || e.getMessage().contains("past the end")
                    || e.getMessage().contains("not a GGUF") || e.getMessage().contains("cannot fit"), "prefix " + l + ": " + e.getMessage());
        }
    }

    @Test
    void randomCutsOfARealFileAreReported() throws Exception {
        byte[] full = Files.readAllBytes(Shared.stories260K());
        java.util.Random rnd = new java.util.Random(1);
        Path p = tmp.resolve("cut-real.gguf");
        for (int i = 0; i < 40; i++) {
            // half the cuts inside the metadata (the vocabulary), half anywhere
            int len = i % 2 == 0 ? rnd.nextInt(20_000) : rnd.nextInt(full.length);
            Files.write(p, Arrays.copyOf(full, len));
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> GGUFFile.open(p).close(), "cut at " + len);
            assertTrue(e.getMessage().contains("truncated") || e.getMessage().contains("past the end") || e.getMessage().contains("cannot fit"),
                    "cut at " + len + ": " + e.getMessage());
        }
    }

    @Test
    void wrongMagic() throws Exception {
        byte[] b = small();
        b[0] = 'X';
        assertMentions(fails(b), "not a GGUF file", "magic");
    }

    @Test
    void unsupportedVersions() throws Exception {
        assertMentions(fails(new RawGGUF().header(1, 0, 0).build()), "version 1");
        assertMentions(fails(new RawGGUF().header(4, 0, 0).build()), "unsupported GGUF version 4");
        assertMentions(fails(new RawGGUF().header(-1, 0, 0).build()), "unsupported GGUF version -1");
    }

    @Test
    void absurdCounts() throws Exception {
        assertMentions(fails(new RawGGUF().header(3, 0, 1L << 62).build()), "metadata count", "cannot fit");
        assertMentions(fails(new RawGGUF().header(3, -1L, 0).build()), "tensor count", "18446744073709551615");
        assertMentions(fails(new RawGGUF().header(3, 1L << 40, 0).build()), "tensor count");
    }

    @Test
    void absurdStringLength() throws Exception {
        assertMentions(fails(new RawGGUF().header(3, 0, 1).u64(1L << 60).bytes(new byte[20]).build()),
                "metadata key #0", "absurd length", "1152921504606846976");
        assertMentions(fails(new RawGGUF().header(3, 0, 1).str("k").u32(8).u64(-5L).build()), "value of 'k'", "absurd length");
        // within the sanity limit but past the end of the file
        assertMentions(fails(new RawGGUF().header(3, 0, 1).str("k").u32(8).u64(1000).str("x").build()), "truncated", "value of 'k'");
    }

    @Test
    void absurdArrayCount() throws Exception {
        assertMentions(fails(new RawGGUF().header(3, 0, 1).str("arr").u32(9).u32(5).u64(1L << 62).build()),
                "metadata array 'arr'", "length 4611686018427387904");
        assertMentions(fails(new RawGGUF().header(3, 0, 1).str("arr").u32(9).u32(8).u64(-1L).build()), "metadata array 'arr'");
    }

    @Test
    void unknownValueTypes() throws Exception {
        assertMentions(fails(new RawGGUF().header(3, 0, 1).str("k").u32(13).u32(0).build()), "'k'", "unknown value type 13");
        assertMentions(fails(new RawGGUF().header(3, 0, 1).str("a").u32(9).u32(77).u64(0).build()), "'a'", "unknown element type 77");
        assertMentions(fails(new RawGGUF().header(3, 0, 1).str("b").u32(7).u8(2).build()), "'b'", "bool value 2");
    }

    @Test
    void deeplyNestedArrays() throws Exception {
        RawGGUF g = new RawGGUF().header(3, 0, 1).str("deep").u32(9);
        for (int i = 0; i < 20; i++) g.u32(9).u64(1);
        g.u32(4).u64(0);
        assertMentions(fails(g.build()), "'deep'", "nests arrays deeper");
    }

    @Test
    void duplicateMetadataKey() throws Exception {
        assertMentions(fails(new RawGGUF().header(3, 0, 2).kvU32("k", 1).kvU32("k", 2).build()), "duplicate metadata key 'k'");
    }

    @Test
    void badAlignment() throws Exception {
        assertMentions(fails(new RawGGUF().header(3, 0, 1).kvU32("general.alignment", 24).build()), "general.alignment", "24", "power of two");
        assertMentions(fails(new RawGGUF().header(3, 0, 1).kvU32("general.alignment", 0).build()), "general.alignment");
        assertMentions(fails(new RawGGUF().header(3, 0, 1).str("general.alignment").u32(8).str("32").build()), "general.alignment", "STRING");
    }

    private static byte[] oneTensor(long[] ne, int type, long offset, int dataBytes) {
        RawGGUF g = new RawGGUF().header(3, 1, 0).tensorInfo("t", ne, type, offset);
        g.padTo(32);
        g.bytes(new byte[dataBytes]);
        return g.build();
    }

    @Test
    void absurdDims() throws Exception {
        RawGGUF g = new RawGGUF().header(3, 1, 0).str("t").u32(99);
        for (int i = 0; i < 99; i++) g.u64(1);
        g.u32(0).u64(0);
        assertMentions(fails(g.build()), "tensor 't'", "99 dimensions");
        assertMentions(fails(new RawGGUF().header(3, 1, 0).str("t").u32(0).u32(0).u64(0).bytes(new byte[32]).build()), "tensor 't'", "0 dimensions");
        assertMentions(fails(oneTensor(new long[]{1L << 50}, 0, 0, 32)), "tensor 't'", "absurd dimension");
        assertMentions(fails(oneTensor(new long[]{-4}, 0, 0, 32)), "tensor 't'", "absurd dimension");
        // each dimension is plausible, their product is not
        assertMentions(fails(oneTensor(new long[]{1L << 30, 1L << 30, 1L << 30}, 0, 0, 32)), "tensor 't'", "overflow");
        assertMentions(fails(oneTensor(new long[]{1L << 31, 1L << 31}, 0, 0, 32)), "tensor 't'");
    }

    @Test
    void unknownTensorType() throws Exception {
        assertMentions(fails(oneTensor(new long[]{4}, 4, 0, 32)), "tensor 't'", "unknown ggml type id 4");
        assertMentions(fails(oneTensor(new long[]{4}, 1000, 0, 32)), "unknown ggml type id 1000");
        assertMentions(fails(oneTensor(new long[]{4}, -1, 0, 32)), "unknown ggml type id -1");
    }

    @Test
    void blockSizeMismatch() throws Exception {
        assertMentions(fails(oneTensor(new long[]{33}, GGMLType.Q8_0.id, 0, 64)), "tensor 't'", "Q8_0", "block size 32");
    }

    @Test
    void tensorDataPastEndOfFile() throws Exception {
        assertMentions(fails(oneTensor(new long[]{16}, 0, 0, 63)), "tensor 't'", "past the end");
        assertMentions(fails(oneTensor(new long[]{4}, 0, 1L << 40, 32)), "tensor 't'", "past the end");
        assertMentions(fails(oneTensor(new long[]{4}, 0, Long.MAX_VALUE - 31, 32)), "tensor 't'");
        assertMentions(fails(oneTensor(new long[]{4}, 0, -32, 32)), "tensor 't'");
        // no data area at all
        assertMentions(fails(new RawGGUF().header(3, 1, 0).tensorInfo("t", new long[]{4}, 0, 0).build()), "tensor");
    }

    @Test
    void misalignedOffset() throws Exception {
        assertMentions(fails(oneTensor(new long[]{4}, 0, 4, 64)), "tensor 't'", "offset 4", "not aligned to 32");
    }

    @Test
    void duplicateTensorName() throws Exception {
        RawGGUF g = new RawGGUF().header(3, 2, 0)
                .tensorInfo("t", new long[]{4}, 0, 0)
                .tensorInfo("t", new long[]{4}, 0, 32);
        g.padTo(32).bytes(new byte[64]);
        assertMentions(fails(g.build()), "duplicate tensor name 't'");
    }

    @Test
    void emptyAndTinyFiles() throws Exception {
        assertMentions(fails(new byte[0]), "not a GGUF file");
        assertMentions(fails(new byte[]{'G', 'G'}), "not a GGUF file");
        assertMentions(fails("GGUF".getBytes()), "truncated", "version");
    }

    @Test
    void randomCorruptionNeverCrashes() throws Exception {
        byte[] good = small();
        java.util.Random rnd = new java.util.Random(42);
        Path p = tmp.resolve("fuzz.gguf");
        for (int i = 0; i < 400; i++) {
            byte[] b = good.clone();
            int flips = 1 + rnd.nextInt(4);
            for (int k = 0; k < flips; k++) b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
            Files.write(p, b);
            try {
                GGUFFile.open(p).close();
            } catch (ModelFormatException e) {
                assertNotNull(e.getMessage());
            }
        }
    }
}
