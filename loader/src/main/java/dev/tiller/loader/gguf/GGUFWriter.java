package dev.tiller.loader.gguf;

import dev.tiller.loader.GGMLType;
import dev.tiller.loader.Tensor;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Array;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes GGUF version 3 files: metadata of every value type (nested arrays included), tensor infos, then the tensor
 * data, each tensor padded to {@code general.alignment} (32 unless that key is set). Tensor bytes are pulled from
 * {@link TensorBytes} callbacks one tensor at a time while writing, so a multi-gigabyte model never sits in memory.
 *
 * <p>Values use {@link GGUFValue}'s representation, so metadata read by {@link GGUFFile} can be copied unchanged.
 */
public final class GGUFWriter {
    private final Map<String, GGUFValue> metadata = new LinkedHashMap<>();
    private final List<PendingTensor> tensors = new ArrayList<>();
    private final Map<String, PendingTensor> tensorsByName = new LinkedHashMap<>();

    private record PendingTensor(String name, GGMLType type, long[] ne, long byteSize, TensorBytes data) {}

    /** Sets (or replaces) a metadata value; its Java representation must match its type. */
    public GGUFWriter put(String key, GGUFValue value) {
        if (key == null || key.isEmpty()) throw new IllegalArgumentException("metadata key must not be empty");
        checkRepresentation(key, value, 0);
        metadata.put(key, value);
        return this;
    }

    public GGUFWriter putString(String key, String v) { return put(key, GGUFValue.of(GGUFValueType.STRING, v)); }
    public GGUFWriter putUInt8(String key, byte v) { return put(key, GGUFValue.of(GGUFValueType.UINT8, v)); }
    public GGUFWriter putInt8(String key, byte v) { return put(key, GGUFValue.of(GGUFValueType.INT8, v)); }
    public GGUFWriter putUInt16(String key, short v) { return put(key, GGUFValue.of(GGUFValueType.UINT16, v)); }
    public GGUFWriter putInt16(String key, short v) { return put(key, GGUFValue.of(GGUFValueType.INT16, v)); }
    public GGUFWriter putUInt32(String key, int v) { return put(key, GGUFValue.of(GGUFValueType.UINT32, v)); }
    public GGUFWriter putInt32(String key, int v) { return put(key, GGUFValue.of(GGUFValueType.INT32, v)); }
    public GGUFWriter putUInt64(String key, long v) { return put(key, GGUFValue.of(GGUFValueType.UINT64, v)); }
    public GGUFWriter putInt64(String key, long v) { return put(key, GGUFValue.of(GGUFValueType.INT64, v)); }
    public GGUFWriter putFloat32(String key, float v) { return put(key, GGUFValue.of(GGUFValueType.FLOAT32, v)); }
    public GGUFWriter putFloat64(String key, double v) { return put(key, GGUFValue.of(GGUFValueType.FLOAT64, v)); }
    public GGUFWriter putBool(String key, boolean v) { return put(key, GGUFValue.of(GGUFValueType.BOOL, v)); }
    public GGUFWriter putStringArray(String key, String[] v) { return put(key, GGUFValue.array(GGUFValueType.STRING, v)); }
    public GGUFWriter putInt32Array(String key, int[] v) { return put(key, GGUFValue.array(GGUFValueType.INT32, v)); }
    public GGUFWriter putFloat32Array(String key, float[] v) { return put(key, GGUFValue.array(GGUFValueType.FLOAT32, v)); }

    public Map<String, GGUFValue> metadata() {
        return java.util.Collections.unmodifiableMap(metadata);
    }

    /** Adds a tensor whose bytes are produced while writing; {@code ne} is in ggml order (innermost first). */
    public GGUFWriter addTensor(String name, GGMLType type, long[] ne, TensorBytes data) {
        if (name == null || name.isEmpty()) throw new IllegalArgumentException("tensor name must not be empty");
        if (tensorsByName.containsKey(name)) throw new IllegalArgumentException("duplicate tensor name '" + name + "'");
        if (ne.length < 1 || ne.length > GGUFFile.MAX_DIMS) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + ne.length + " dimensions (1.." + GGUFFile.MAX_DIMS + " allowed)");
        }
        long elements = 1;
        for (long d : ne) {
            if (d < 0) throw new IllegalArgumentException("tensor '" + name + "' has negative dimension " + d);
            elements = Math.multiplyExact(elements, d);
        }
        if (ne[0] % type.blockSize != 0) {
            throw new IllegalArgumentException("tensor '" + name + "' of type " + type + " has row length " + ne[0]
                    + ", not a multiple of the block size " + type.blockSize);
        }
        PendingTensor t = new PendingTensor(name, type, ne.clone(), type.byteSize(elements), data);
        tensors.add(t);
        tensorsByName.put(name, t);
        return this;
    }

    public GGUFWriter addTensor(String name, GGMLType type, long[] ne, byte[] data) {
        addTensor(name, type, ne, TensorBytes.of(data));
        long expected = tensorsByName.get(name).byteSize;
        if (data.length != expected) {
            removeLast();
            throw new IllegalArgumentException("tensor '" + name + "' needs " + expected + " bytes, got " + data.length);
        }
        return this;
    }

    /** Copies a tensor read from another file (under its own name). */
    public GGUFWriter addTensor(Tensor t) {
        return addTensor(t.name(), t.type(), t.ne(), TensorBytes.of(t.data()));
    }

    private void removeLast() {
        PendingTensor t = tensors.removeLast();
        tensorsByName.remove(t.name);
    }

    int alignment() {
        GGUFValue a = metadata.get("general.alignment");
        if (a == null) return GGUFFile.DEFAULT_ALIGNMENT;
        if (!a.isInteger()) throw new IllegalArgumentException("general.alignment must be an integer, is " + a.type());
        long v = a.asLong();
        if (v <= 0 || v > (1 << 20) || Long.bitCount(v) != 1) throw new IllegalArgumentException("general.alignment = " + v + " is not a power of two");
        return (int) v;
    }

    /** Writes the file; a partly written file is deleted when a tensor callback fails. */
    public void write(Path path) {
        int alignment = alignment();
        try {
            try (OutputStream fos = Files.newOutputStream(path);
                 LittleEndianOutput out = new LittleEndianOutput(new BufferedOutputStream(fos, 1 << 20))) {
                writeTo(out, alignment);
            }
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException ignored) {
                // the original failure is what matters
            }
            if (e instanceof IOException io) throw new UncheckedIOException(path + ": cannot write GGUF: " + io.getMessage(), io);
            throw (RuntimeException) e;
        }
    }

    private void writeTo(LittleEndianOutput out, int alignment) throws IOException {
        out.u32(GGUFFile.MAGIC);
        out.u32(3);
        out.u64(tensors.size());
        out.u64(metadata.size());
        for (Map.Entry<String, GGUFValue> e : metadata.entrySet()) {
            out.string(e.getKey());
            out.u32(e.getValue().type().id);
            writeValue(out, e.getValue());
        }
        long offset = 0;
        for (PendingTensor t : tensors) {
            out.string(t.name);
            out.u32(t.ne.length);
            for (long d : t.ne) out.u64(d);
            out.u32(t.type.id);
            out.u64(offset);
            offset = GGUFFile.alignUp(offset + t.byteSize, alignment);
        }
        out.zeros(GGUFFile.alignUp(out.count(), alignment) - out.count());
        long dataStart = out.count();
        for (PendingTensor t : tensors) {
            long before = out.count();
            t.data.writeTo(out);
            long written = out.count() - before;
            if (written != t.byteSize) {
                throw new IllegalStateException("tensor '" + t.name + "' (" + t.type + " " + java.util.Arrays.toString(t.ne) + ") should have "
                        + t.byteSize + " bytes, its data wrote " + written);
            }
            long rel = out.count() - dataStart;
            out.zeros(GGUFFile.alignUp(rel, alignment) - rel);
        }
    }

    private static void writeValue(LittleEndianOutput out, GGUFValue v) throws IOException {
        Object o = v.value();
        switch (v.type()) {
            case UINT8, INT8 -> out.u8((Byte) o);
            case UINT16, INT16 -> out.u16((Short) o);
            case UINT32, INT32 -> out.u32((Integer) o);
            case UINT64, INT64 -> out.u64((Long) o);
            case FLOAT32 -> out.u32(Float.floatToRawIntBits((Float) o));
            case FLOAT64 -> out.u64(Double.doubleToRawLongBits((Double) o));
            case BOOL -> out.u8((Boolean) o ? 1 : 0);
            case STRING -> out.string((String) o);
            case ARRAY -> writeArray(out, v);
        }
    }

    private static void writeArray(LittleEndianOutput out, GGUFValue v) throws IOException {
        Object a = v.value();
        int n = Array.getLength(a);
        out.u32(v.elementType().id);
        out.u64(n);
        switch (v.elementType()) {
            case UINT8, INT8 -> out.write((byte[]) a, 0, n);
            case UINT16, INT16 -> { for (short s : (short[]) a) out.u16(s); }
            case UINT32, INT32 -> { for (int i : (int[]) a) out.u32(i); }
            case UINT64, INT64 -> { for (long l : (long[]) a) out.u64(l); }
            case FLOAT32 -> { for (float f : (float[]) a) out.u32(Float.floatToRawIntBits(f)); }
            case FLOAT64 -> { for (double d : (double[]) a) out.u64(Double.doubleToRawLongBits(d)); }
            case BOOL -> { for (boolean b : (boolean[]) a) out.u8(b ? 1 : 0); }
            case STRING -> { for (String s : (String[]) a) out.string(s); }
            case ARRAY -> { for (GGUFValue inner : (GGUFValue[]) a) writeArray(out, inner); }
        }
    }

    /** Rejects a value whose Java object does not match its declared type, before anything is written. */
    private static void checkRepresentation(String key, GGUFValue v, int depth) {
        if (v == null || v.type() == null) throw new IllegalArgumentException("metadata '" + key + "': null value");
        if (depth > GGUFFile.MAX_ARRAY_DEPTH) throw new IllegalArgumentException("metadata '" + key + "': arrays nested too deep");
        Object o = v.value();
        Class<?> want = switch (v.type()) {
            case UINT8, INT8 -> Byte.class;
            case UINT16, INT16 -> Short.class;
            case UINT32, INT32 -> Integer.class;
            case UINT64, INT64 -> Long.class;
            case FLOAT32 -> Float.class;
            case FLOAT64 -> Double.class;
            case BOOL -> Boolean.class;
            case STRING -> String.class;
            case ARRAY -> arrayClass(key, v.elementType());
        };
        if (!want.isInstance(o)) {
            throw new IllegalArgumentException("metadata '" + key + "' of type " + v.type()
                    + (v.elementType() != null ? " of " + v.elementType() : "") + " must hold a " + want.getSimpleName()
                    + ", holds " + (o == null ? "null" : o.getClass().getSimpleName()));
        }
        if (v.type() == GGUFValueType.ARRAY && v.elementType() == GGUFValueType.ARRAY) {
            for (GGUFValue inner : (GGUFValue[]) o) {
                if (inner == null || inner.type() != GGUFValueType.ARRAY) {
                    throw new IllegalArgumentException("metadata '" + key + "': elements of a nested array must be arrays");
                }
                checkRepresentation(key, inner, depth + 1);
            }
        }
        if (v.type() == GGUFValueType.ARRAY && v.elementType() == GGUFValueType.STRING) {
            for (String s : (String[]) o) if (s == null) throw new IllegalArgumentException("metadata '" + key + "': null string in array");
        }
    }

    private static Class<?> arrayClass(String key, GGUFValueType et) {
        if (et == null) throw new IllegalArgumentException("metadata '" + key + "': array without element type");
        return switch (et) {
            case UINT8, INT8 -> byte[].class;
            case UINT16, INT16 -> short[].class;
            case UINT32, INT32 -> int[].class;
            case UINT64, INT64 -> long[].class;
            case FLOAT32 -> float[].class;
            case FLOAT64 -> double[].class;
            case BOOL -> boolean[].class;
            case STRING -> String[].class;
            case ARRAY -> GGUFValue[].class;
        };
    }
}
