package dev.tiller.testsupport;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/** Readers for the reference files that llama.cpp's tools wrote: JSON records and raw little-endian float32 dumps. */
public final class Reference {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A JSON reference record, e.g. the prompt tokens and greedy continuation of one prompt. */
    public static JsonNode json(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A JSON array of integers (token ids) as an int array. */
    public static int[] ints(JsonNode array) {
        if (!array.isArray()) throw new IllegalArgumentException("not a JSON array: " + array);
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = array.get(i);
            if (!v.canConvertToInt() || !v.isIntegralNumber()) throw new IllegalArgumentException("element " + i + " is not an int: " + v);
            out[i] = v.intValue();
        }
        return out;
    }

    /** A file of little-endian float32 values (logits, activations, vectors) as a float array. */
    public static float[] floats(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (bytes.length % Float.BYTES != 0) throw new IllegalArgumentException(file + ": " + bytes.length + " bytes is not a whole number of float32s");
        float[] out = new float[bytes.length / Float.BYTES];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }

    private Reference() {}
}
