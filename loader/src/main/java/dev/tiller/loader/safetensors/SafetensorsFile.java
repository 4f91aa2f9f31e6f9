package dev.tiller.loader.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.loader.MappedFile;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A memory-mapped safetensors file. Layout: u64 little-endian header length N, N bytes of JSON
 * ({@code {"name": {"dtype": "F32", "shape": [out, in], "data_offsets": [begin, end]}, "__metadata__": {...}}}),
 * then the data area that the offsets index into.
 *
 * <p>Tensors keep their safetensors names here (HF names; {@link dev.tiller.loader.hf.HFModelFolder} maps them to
 * GGUF names) but their shapes are converted to ggml order: safetensors lists the outermost dimension first, so a
 * linear weight {@code [out, in]} becomes {@code ne = [in, out]}. The tensor bytes are slices of the mapping.
 *
 * <p>Every header field is validated before use: offsets lie inside the data area, tensors do not overlap, and each
 * tensor's byte size equals its element count times its dtype size.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** The reference implementation refuses headers over 100 MB; so do we, before allocating anything. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final MappedFile file;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;
    private final long dataOffset;

    private SafetensorsFile(MappedFile file, Map<String, Tensor> tensors, Map<String, String> metadata, long dataOffset) {
        this.file = file;
        this.tensors = tensors;
        this.metadata = metadata;
        this.dataOffset = dataOffset;
    }

    public static SafetensorsFile open(Path path) {
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
    public static SafetensorsFile open(MappedFile mf) {
        return parse(mf);
    }

    private static SafetensorsFile parse(MappedFile mf) {
        String src = mf.path().toString();
        long size = mf.size();
        if (size < 8) throw new ModelFormatException(src + ": not a safetensors file (only " + size + " bytes, no header length)");
        long headerLen = mf.segment().get(U64, 0);
        if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
            throw new ModelFormatException(src + ": safetensors header length " + Long.toUnsignedString(headerLen)
                    + " is not sane (2.." + MAX_HEADER_BYTES + " bytes)");
        }
        if (headerLen > size - 8) {
            throw new ModelFormatException(src + ": safetensors header length " + headerLen + " runs past the end of the file ("
                    + size + " bytes)");
        }
        byte[] headerBytes = mf.segment().asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
        JsonNode root;
        try {
            root = JSON.readTree(new String(headerBytes, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(src + ": safetensors header is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException(src + ": safetensors header is not a JSON object");
        }
        long dataOffset = 8 + headerLen;
        long dataSize = size - dataOffset;
        Map<String, String> metadata = new LinkedHashMap<>();
        record Entry(String name, SafetensorsDType dtype, long[] ne, long begin, long end) {}
        List<Entry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            String name = field.getKey();
            JsonNode node = field.getValue();
            if (name.equals("__metadata__")) {
                readMetadata(src, node, metadata);
                continue;
            }
            if (!node.isObject()) throw new ModelFormatException(src + ": tensor '" + name + "': header entry is not a JSON object");
            JsonNode dtypeNode = node.get("dtype");
            if (dtypeNode == null || !dtypeNode.isTextual()) {
                throw new ModelFormatException(src + ": tensor '" + name + "': missing or non-string 'dtype'");
            }
            String dtypeName = dtypeNode.asText();
            SafetensorsDType dtype = SafetensorsDType.fromHeaderName(dtypeName);
            if (dtype == null) {
                String kind = SafetensorsDType.KNOWN_NAMES.contains(dtypeName) ? "unsupported" : "unknown";
                throw new ModelFormatException(src + ": tensor '" + name + "' has " + kind + " dtype '" + dtypeName
                        + "' (supported: F32, F16, BF16)");
            }
            long[] shape = longArray(src, name, node, "shape", -1);
            long[] offsets = longArray(src, name, node, "data_offsets", 2);
            long elements = 1;
            for (long d : shape) {
                try {
                    elements = Math.multiplyExact(elements, d);
                } catch (ArithmeticException e) {
                    throw new ModelFormatException(src + ": tensor '" + name + "': element count of shape " + java.util.Arrays.toString(shape) + " overflows");
                }
            }
            long begin = offsets[0], end = offsets[1];
            if (begin > end) {
                throw new ModelFormatException(src + ": tensor '" + name + "': data_offsets [" + begin + ", " + end + "] are reversed");
            }
            if (end > dataSize) {
                throw new ModelFormatException(src + ": tensor '" + name + "': data_offsets [" + begin + ", " + end
                        + "] are out of range: the data area holds " + dataSize + " bytes (file ends at " + size + ")");
            }
            long expected;
            try {
                expected = Math.multiplyExact(elements, (long) dtype.byteSize());
            } catch (ArithmeticException e) {
                throw new ModelFormatException(src + ": tensor '" + name + "': byte size overflows");
            }
            if (end - begin != expected) {
                throw new ModelFormatException(src + ": tensor '" + name + "' has shape " + java.util.Arrays.toString(shape) + " of " + dtypeName
                        + " (" + expected + " bytes) but data_offsets [" + begin + ", " + end + "] span " + (end - begin) + " bytes");
            }
            long[] ne = new long[shape.length];
            for (int i = 0; i < shape.length; i++) ne[i] = shape[shape.length - 1 - i];
            entries.add(new Entry(name, dtype, ne, begin, end));
        }
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        Entry furthest = null; // the non-empty tensor seen so far that ends last
        for (Entry cur : byOffset) {
            if (cur.end == cur.begin) continue; // empty tensors occupy no bytes
            if (furthest != null && cur.begin < furthest.end) {
                throw new ModelFormatException(src + ": tensors '" + furthest.name + "' [" + furthest.begin + ", " + furthest.end + ") and '"
                        + cur.name + "' [" + cur.begin + ", " + cur.end + ") overlap");
            }
            if (furthest == null || cur.end > furthest.end) furthest = cur;
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Entry e : entries) {
            tensors.put(e.name, new Tensor(e.name, e.dtype.ggmlType, e.ne,
                    mf.segment().asSlice(dataOffset + e.begin, e.end - e.begin), src));
        }
        return new SafetensorsFile(mf, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata), dataOffset);
    }

    private static void readMetadata(String src, JsonNode node, Map<String, String> out) {
        if (node.isNull()) return;
        if (!node.isObject()) throw new ModelFormatException(src + ": '__metadata__' is not a JSON object");
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (!f.getValue().isTextual()) {
                throw new ModelFormatException(src + ": '__metadata__' value of '" + f.getKey() + "' is not a string");
            }
            out.put(f.getKey(), f.getValue().asText());
        }
    }

    /** A JSON array of non-negative integers that fit in a long; {@code length} -1 allows any length. */
    private static long[] longArray(String src, String tensor, JsonNode node, String field, int length) {
        JsonNode a = node.get(field);
        if (a == null || !a.isArray()) {
            throw new ModelFormatException(src + ": tensor '" + tensor + "': missing or non-array '" + field + "'");
        }
        if (length >= 0 && a.size() != length) {
            throw new ModelFormatException(src + ": tensor '" + tensor + "': '" + field + "' has " + a.size() + " entries, expected " + length);
        }
        if (a.size() > 16) throw new ModelFormatException(src + ": tensor '" + tensor + "': '" + field + "' has " + a.size() + " dimensions");
        long[] r = new long[a.size()];
        for (int i = 0; i < r.length; i++) {
            JsonNode v = a.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0) {
                throw new ModelFormatException(src + ": tensor '" + tensor + "': '" + field + "'[" + i + "] = " + v
                        + " is not a non-negative 64-bit integer");
            }
            r[i] = v.asLong();
        }
        return r;
    }

    /** Tensors under their safetensors names, in header order, with ggml-order shapes. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new ModelFormatException(file.path() + ": missing tensor '" + name + "'");
        return t;
    }

    /** The string map under {@code __metadata__} (empty when absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Where the data area starts: 8 + header length. */
    public long dataOffset() {
        return dataOffset;
    }

    public Path path() {
        return file.path();
    }

    @Override
    public void close() {
        file.close();
    }
}
