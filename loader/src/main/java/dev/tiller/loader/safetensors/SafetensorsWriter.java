package dev.tiller.loader.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiller.loader.GGMLType;
import dev.tiller.loader.gguf.TensorBytes;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes safetensors files, optionally sharded HF-style ({@code model-00001-of-00002.safetensors} ... plus
 * {@code model.safetensors.index.json} with a {@code weight_map}). Shapes are given in safetensors order (outermost
 * first, e.g. {@code [out, in]}); tensor bytes are streamed from {@link TensorBytes} callbacks one at a time.
 * The JSON header is padded with spaces so that the data area starts 8-byte aligned, as the reference writer does.
 */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private record Pending(String name, SafetensorsDType dtype, long[] shape, long byteSize, TensorBytes data) {}

    private final List<Pending> tensors = new ArrayList<>();
    private final Set<String> names = new LinkedHashSet<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    public SafetensorsWriter putMetadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Adds a tensor; {@code shape} is in safetensors order (outermost first). */
    public SafetensorsWriter add(String name, GGMLType type, long[] shape, TensorBytes data) {
        SafetensorsDType dtype = SafetensorsDType.fromGgml(type);
        if (dtype == null) throw new IllegalArgumentException("tensor '" + name + "': safetensors cannot store " + type + " (only F32, F16, BF16)");
        if (name.equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' is reserved in safetensors");
        if (!names.add(name)) throw new IllegalArgumentException("duplicate tensor name '" + name + "'");
        long elements = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("tensor '" + name + "' has negative dimension " + d);
            elements = Math.multiplyExact(elements, d);
        }
        tensors.add(new Pending(name, dtype, shape.clone(), Math.multiplyExact(elements, (long) dtype.byteSize()), data));
        return this;
    }

    public SafetensorsWriter add(String name, GGMLType type, long[] shape, byte[] data) {
        add(name, type, shape, TensorBytes.of(data));
        Pending p = tensors.getLast();
        if (p.byteSize != data.length) {
            tensors.removeLast();
            names.remove(name);
            throw new IllegalArgumentException("tensor '" + name + "' needs " + p.byteSize + " bytes, got " + data.length);
        }
        return this;
    }

    /** Writes everything into one file. */
    public void write(Path file) {
        writeFile(file, tensors);
    }

    /**
     * Writes shards of at most {@code maxShardBytes} of tensor data each (a bigger single tensor gets a shard of its
     * own) named {@code model-0000i-of-0000n.safetensors}, and {@code model.safetensors.index.json}, into {@code dir}.
     * Returns the shard paths.
     */
    public List<Path> writeSharded(Path dir, long maxShardBytes) {
        if (maxShardBytes <= 0) throw new IllegalArgumentException("maxShardBytes must be positive");
        List<List<Pending>> shards = new ArrayList<>();
        List<Pending> current = new ArrayList<>();
        long currentBytes = 0;
        for (Pending p : tensors) {
            if (!current.isEmpty() && currentBytes + p.byteSize > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                currentBytes = 0;
            }
            current.add(p);
            currentBytes += p.byteSize;
        }
        if (!current.isEmpty() || shards.isEmpty()) shards.add(current);
        List<Path> paths = new ArrayList<>();
        ObjectNode weightMap = JSON.createObjectNode();
        long total = 0;
        for (int i = 0; i < shards.size(); i++) {
            String fileName = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
            Path p = dir.resolve(fileName);
            writeFile(p, shards.get(i));
            paths.add(p);
            for (Pending t : shards.get(i)) {
                weightMap.put(t.name, fileName);
                total += t.byteSize;
            }
        }
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        index.set("weight_map", weightMap);
        try {
            Files.writeString(dir.resolve("model.safetensors.index.json"),
                    JSON.copy().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(index));
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot write model.safetensors.index.json: " + e.getMessage(), e);
        }
        return paths;
    }

    private void writeFile(Path file, List<Pending> list) {
        byte[] header = header(list);
        try (OutputStream fos = Files.newOutputStream(file);
             CountingOutput out = new CountingOutput(new BufferedOutputStream(fos, 1 << 20))) {
            long len = header.length;
            for (int i = 0; i < 8; i++) out.write((int) (len >>> (8 * i)) & 0xFF);
            out.write(header);
            for (Pending t : list) {
                long before = out.count;
                t.data.writeTo(out);
                if (out.count - before != t.byteSize) {
                    throw new IllegalStateException("tensor '" + t.name + "' should have " + t.byteSize + " bytes, its data wrote " + (out.count - before));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write safetensors: " + e.getMessage(), e);
        }
    }

    private byte[] header(List<Pending> list) {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = root.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Pending t : list) {
            ObjectNode n = root.putObject(t.name);
            n.put("dtype", t.dtype.headerName);
            ArrayNode shape = n.putArray("shape");
            for (long d : t.shape) shape.add(d);
            ArrayNode offs = n.putArray("data_offsets");
            offs.add(offset);
            offs.add(offset + t.byteSize);
            offset += t.byteSize;
        }
        String json;
        try {
            json = JSON.writeValueAsString(root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        int padded = (b.length + 7) / 8 * 8;
        byte[] out = new byte[padded];
        System.arraycopy(b, 0, out, 0, b.length);
        for (int i = b.length; i < padded; i++) out[i] = ' ';
        return out;
    }

    private static final class CountingOutput extends FilterOutputStream {
        long count;

        CountingOutput(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }
}
