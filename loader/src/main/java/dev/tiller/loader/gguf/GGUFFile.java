package dev.tiller.loader.gguf;

import dev.tiller.loader.GGMLType;
import dev.tiller.loader.MappedFile;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import dev.tiller.loader.TensorSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A GGUF file (versions 2 and 3), memory-mapped. The header and metadata are parsed eagerly with every length and
 * count checked against the bytes that remain before anything is allocated; tensor data stays in the mapping.
 *
 * <p>Layout: magic "GGUF", u32 version, u64 tensor count, u64 metadata count, the metadata key/values, the tensor
 * infos (name, dims, ne[], type, offset), padding to {@code general.alignment} (default 32), then the data.
 */
public final class GGUFFile implements TensorSource {
    public static final int MAGIC = 0x46554747; // "GGUF" little-endian
    public static final int DEFAULT_ALIGNMENT = 32;
    /** ggml tensors have at most 4 dimensions. */
    public static final int MAX_DIMS = 4;
    /** No key, name or string value in a sane file comes near this; it bounds allocation on corrupt input. */
    public static final long MAX_STRING_BYTES = 256L << 20;
    public static final int MAX_ARRAY_DEPTH = 8;

    private final MappedFile file;
    private final int version;
    private final GGUFMetadata metadata;
    private final Map<String, Tensor> tensors;
    private final long dataOffset;
    private final int alignment;

    private GGUFFile(MappedFile file, int version, GGUFMetadata metadata, Map<String, Tensor> tensors, long dataOffset, int alignment) {
        this.file = file;
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
        this.dataOffset = dataOffset;
        this.alignment = alignment;
    }

    public static GGUFFile open(Path path) {
        MappedFile mf = MappedFile.open(path);
        try {
            return parse(mf);
        } catch (RuntimeException e) {
            mf.close();
            throw e;
        }
    }

    /**
     * Parses an already opened (or {@linkplain MappedFile#ofBytes in-memory}) file; on success the result owns it and
     * closes it, on failure the caller still does.
     */
    public static GGUFFile open(MappedFile mf) {
        return parse(mf);
    }

    private static GGUFFile parse(MappedFile mf) {
        String src = mf.path().toString();
        Cursor c = new Cursor(mf.segment(), src);
        if (mf.size() < 4) throw new ModelFormatException(src + ": not a GGUF file (only " + mf.size() + " bytes)");
        int magic = c.i32("magic");
        if (magic != MAGIC) {
            throw new ModelFormatException(src + ": not a GGUF file (magic 0x" + Integer.toHexString(magic) + ", expected 'GGUF')");
        }
        int version = c.i32("version");
        if (version == 1) throw new ModelFormatException(src + ": GGUF version 1 is not supported (only 2 and 3)");
        if (version != 2 && version != 3) throw new ModelFormatException(src + ": unsupported GGUF version " + version);
        long tensorCount = c.i64("tensor count");
        long kvCount = c.i64("metadata count");
        // each key/value takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at least 8+4+4+8
        if (kvCount < 0 || kvCount > c.remaining() / 13) {
            throw new ModelFormatException(src + ": metadata count " + Long.toUnsignedString(kvCount) + " cannot fit in the file");
        }
        Map<String, GGUFValue> kv = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = c.string("metadata key #" + i);
            int typeId = c.i32("type of '" + key + "'");
            GGUFValueType type = GGUFValueType.fromId(typeId);
            if (type == null) throw new ModelFormatException(src + ": metadata key '" + key + "' has unknown value type " + typeId);
            if (kv.containsKey(key)) throw new ModelFormatException(src + ": duplicate metadata key '" + key + "'");
            kv.put(key, c.value(type, key, 0));
        }
        GGUFMetadata metadata = new GGUFMetadata(kv, src);
        int alignment = DEFAULT_ALIGNMENT;
        if (metadata.has("general.alignment")) {
            long a = metadata.getLong("general.alignment");
            if (a <= 0 || a > (1 << 20) || Long.bitCount(a) != 1) {
                throw new ModelFormatException(src + ": general.alignment = " + a + " is not a power of two");
            }
            alignment = (int) a;
        }
        if (tensorCount < 0 || tensorCount > c.remaining() / 24) {
            throw new ModelFormatException(src + ": tensor count " + Long.toUnsignedString(tensorCount) + " cannot fit in the file");
        }
        record Info(String name, GGMLType type, long[] ne, long offset) {}
        Info[] infos = new Info[(int) tensorCount];
        for (int i = 0; i < tensorCount; i++) {
            String name = c.string("tensor name #" + i);
            int nDims = c.i32("dims of tensor '" + name + "'");
            if (nDims < 1 || nDims > MAX_DIMS) {
                throw new ModelFormatException(src + ": tensor '" + name + "' has " + nDims + " dimensions (1.." + MAX_DIMS + " allowed)");
            }
            long[] ne = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                ne[d] = c.i64("dimension " + d + " of tensor '" + name + "'");
                if (ne[d] < 0 || ne[d] > (1L << 40)) {
                    throw new ModelFormatException(src + ": tensor '" + name + "' has absurd dimension " + d + " = " + Long.toUnsignedString(ne[d]));
                }
                try {
                    elements = Math.multiplyExact(elements, ne[d]);
                } catch (ArithmeticException e) {
                    throw new ModelFormatException(src + ": tensor '" + name + "' element count overflows");
                }
            }
            int typeId = c.i32("type of tensor '" + name + "'");
            GGMLType type = GGMLType.fromId(typeId);
            if (type == null) throw new ModelFormatException(src + ": tensor '" + name + "' has unknown ggml type id " + typeId);
            if (ne[0] % type.blockSize != 0) {
                throw new ModelFormatException(src + ": tensor '" + name + "' of type " + type + " has row length " + ne[0]
                        + ", not a multiple of the block size " + type.blockSize);
            }
            try {
                type.byteSize(elements);
            } catch (ArithmeticException e) {
                // plausible dimensions whose product times the type size exceeds 2^63 bytes
                throw new ModelFormatException(src + ": tensor '" + name + "' byte size overflows (" + elements + " elements of " + type + ")");
            }
            long offset = c.i64("offset of tensor '" + name + "'");
            infos[i] = new Info(name, type, ne, offset);
        }
        long dataOffset = alignUp(c.position(), alignment);
        if (tensorCount > 0 && dataOffset > mf.size()) {
            throw new ModelFormatException(src + ": tensor data would start at " + dataOffset + ", past the end of the file (" + mf.size() + " bytes)");
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Info info : infos) {
            long bytes = info.type.byteSize(elementsOf(info.ne));
            if (info.offset < 0 || info.offset % alignment != 0) {
                throw new ModelFormatException(src + ": tensor '" + info.name + "' has offset " + Long.toUnsignedString(info.offset)
                        + ", not aligned to " + alignment);
            }
            long start = dataOffset + info.offset;
            if (start < dataOffset || start > mf.size() || bytes > mf.size() - start) {
                throw new ModelFormatException(src + ": tensor '" + info.name + "' (" + info.type + " " + java.util.Arrays.toString(info.ne)
                        + ", " + bytes + " bytes at offset " + start + ") extends past the end of the file (" + mf.size() + " bytes)");
            }
            if (tensors.containsKey(info.name)) throw new ModelFormatException(src + ": duplicate tensor name '" + info.name + "'");
            tensors.put(info.name, new Tensor(info.name, info.type, info.ne, mf.segment().asSlice(start, bytes), src));
        }
        return new GGUFFile(mf, version, metadata, Collections.unmodifiableMap(tensors), dataOffset, alignment);
    }

    private static long elementsOf(long[] ne) {
        long n = 1;
        for (long d : ne) n *= d; // overflow already checked while parsing
        return n;
    }

    static long alignUp(long x, int alignment) {
        return (x + alignment - 1) / alignment * alignment;
    }

    public int version() {
        return version;
    }

    public GGUFMetadata metadata() {
        return metadata;
    }

    @Override
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    public long dataOffset() {
        return dataOffset;
    }

    public int alignment() {
        return alignment;
    }

    public Path path() {
        return file.path();
    }

    @Override
    public String describe() {
        return file.path().toString();
    }

    @Override
    public void close() {
        file.close();
    }

    /** Reads little-endian values from the mapping; every read is bounds-checked and names what it was reading. */
    private static final class Cursor {
        private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

        private final MemorySegment seg;
        private final String src;
        private long pos;

        Cursor(MemorySegment seg, String src) {
            this.seg = seg;
            this.src = src;
        }

        long position() {
            return pos;
        }

        long remaining() {
            return seg.byteSize() - pos;
        }

        private void need(long n, String what) {
            if (n < 0 || n > remaining()) {
                throw new ModelFormatException(src + ": truncated file: reading " + what + " at offset " + pos + " needs " + n
                        + " bytes, " + remaining() + " remain");
            }
        }

        byte i8(String what) { need(1, what); return seg.get(ValueLayout.JAVA_BYTE, pos++); }
        short i16(String what) { need(2, what); short v = seg.get(I16, pos); pos += 2; return v; }
        int i32(String what) { need(4, what); int v = seg.get(I32, pos); pos += 4; return v; }
        long i64(String what) { need(8, what); long v = seg.get(I64, pos); pos += 8; return v; }
        float f32(String what) { need(4, what); float v = seg.get(F32, pos); pos += 4; return v; }
        double f64(String what) { need(8, what); double v = seg.get(F64, pos); pos += 8; return v; }

        String string(String what) {
            long len = i64("length of " + what);
            if (len < 0 || len > MAX_STRING_BYTES) {
                throw new ModelFormatException(src + ": " + what + " at offset " + (pos - 8) + " has absurd length " + Long.toUnsignedString(len));
            }
            need(len, what);
            byte[] b = seg.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
            pos += len;
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
            } catch (CharacterCodingException e) {
                // llama.cpp's vocabularies hold a few tokens that are not valid UTF-8 on their own; keep them lossless
                // by falling back to ISO-8859-1 would corrupt the others, so replace only the bad sequences.
                return new String(b, StandardCharsets.UTF_8);
            }
        }

        GGUFValue value(GGUFValueType type, String key, int depth) {
            return switch (type) {
                case UINT8, INT8 -> GGUFValue.of(type, i8(key));
                case UINT16, INT16 -> GGUFValue.of(type, i16(key));
                case UINT32, INT32 -> GGUFValue.of(type, i32(key));
                case UINT64, INT64 -> GGUFValue.of(type, i64(key));
                case FLOAT32 -> GGUFValue.of(type, f32(key));
                case FLOAT64 -> GGUFValue.of(type, f64(key));
                case BOOL -> {
                    byte b = i8(key);
                    if (b != 0 && b != 1) throw new ModelFormatException(src + ": metadata key '" + key + "' has bool value " + b);
                    yield GGUFValue.of(type, b == 1);
                }
                case STRING -> GGUFValue.of(type, string("value of '" + key + "'"));
                case ARRAY -> array(key, depth);
            };
        }

        private GGUFValue array(String key, int depth) {
            if (depth >= MAX_ARRAY_DEPTH) throw new ModelFormatException(src + ": metadata key '" + key + "' nests arrays deeper than " + MAX_ARRAY_DEPTH);
            int typeId = i32("array type of '" + key + "'");
            GGUFValueType et = GGUFValueType.fromId(typeId);
            if (et == null) throw new ModelFormatException(src + ": metadata array '" + key + "' has unknown element type " + typeId);
            long n = i64("array length of '" + key + "'");
            if (n < 0 || n > remaining() / et.minBytes || n > Integer.MAX_VALUE - 8) {
                throw new ModelFormatException(src + ": metadata array '" + key + "' has length " + Long.toUnsignedString(n)
                        + " that cannot fit in the " + remaining() + " bytes left");
            }
            int len = (int) n;
            Object arr = switch (et) {
                case UINT8, INT8 -> { byte[] a = new byte[len]; for (int i = 0; i < len; i++) a[i] = i8(key); yield a; }
                case UINT16, INT16 -> { short[] a = new short[len]; for (int i = 0; i < len; i++) a[i] = i16(key); yield a; }
                case UINT32, INT32 -> { int[] a = new int[len]; for (int i = 0; i < len; i++) a[i] = i32(key); yield a; }
                case UINT64, INT64 -> { long[] a = new long[len]; for (int i = 0; i < len; i++) a[i] = i64(key); yield a; }
                case FLOAT32 -> { float[] a = new float[len]; for (int i = 0; i < len; i++) a[i] = f32(key); yield a; }
                case FLOAT64 -> { double[] a = new double[len]; for (int i = 0; i < len; i++) a[i] = f64(key); yield a; }
                case BOOL -> { boolean[] a = new boolean[len]; for (int i = 0; i < len; i++) a[i] = i8(key) != 0; yield a; }
                case STRING -> { String[] a = new String[len]; for (int i = 0; i < len; i++) a[i] = string("element " + i + " of '" + key + "'"); yield a; }
                case ARRAY -> { GGUFValue[] a = new GGUFValue[len]; for (int i = 0; i < len; i++) a[i] = array(key, depth + 1); yield a; }
            };
            return GGUFValue.array(et, arr);
        }
    }
}
