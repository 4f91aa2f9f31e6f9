package dev.tiller.steering.file;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.model.ModelConfig;
import dev.tiller.engine.model.ModelWeights;
import dev.tiller.models.arch.Weight;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a steering file knows of the model it was made for: its shapes and SHA-256 digests of three norm weights
 * (converted to little-endian F32 first, so a GGUF and a safetensors copy agree; quantizers keep norms in F32, so a
 * quantized copy agrees too). Two models of one architecture and size but different training differ in the digests.
 *
 * @param tensorDigests GGUF tensor name → lower-case hex SHA-256
 */
public record ModelFingerprint(String architecture, int embeddingLength, int blockCount, int vocabSize, int headCount,
                               int headCountKv, int feedForwardLength, Map<String, String> tensorDigests) {

    public ModelFingerprint {
        tensorDigests = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tensorDigests));
    }

    public static ModelFingerprint of(Model model) {
        ModelConfig c = model.config();
        ModelWeights w = model.weights();
        Map<String, String> digests = new LinkedHashMap<>();
        digests.put("output_norm.weight", sha256(w.outputNorm()));
        digests.put(Weight.ATTN_NORM.ggufName(0), sha256(w.layers()[0].attnNorm()));
        digests.put(Weight.FFN_NORM.ggufName(c.layers() - 1), sha256(w.layers()[c.layers() - 1].ffnNorm()));
        return new ModelFingerprint(c.architecture().name(), c.dim(), c.layers(), c.vocabSize(), c.heads(), c.kvHeads(), c.ffnDim(), digests);
    }

    /**
     * The differences between the model this fingerprint describes and {@code actual}, one line each; empty when they
     * match. A fingerprint with no digests (hand-made files) is checked on shapes only.
     */
    public List<String> differencesFrom(ModelFingerprint actual) {
        List<String> d = new ArrayList<>();
        if (!architecture.isEmpty() && !architecture.equals(actual.architecture)) d.add("architecture " + architecture + " vs the model's " + actual.architecture);
        diff(d, "n_embd", embeddingLength, actual.embeddingLength);
        diff(d, "block count", blockCount, actual.blockCount);
        diff(d, "vocabulary size", vocabSize, actual.vocabSize);
        diff(d, "head count", headCount, actual.headCount);
        diff(d, "KV head count", headCountKv, actual.headCountKv);
        diff(d, "feed-forward length", feedForwardLength, actual.feedForwardLength);
        for (var e : tensorDigests.entrySet()) {
            String other = actual.tensorDigests.get(e.getKey());
            if (other != null && !other.equals(e.getValue())) {
                d.add("tensor " + e.getKey() + " has SHA-256 " + other.substring(0, 12) + "…, the file expects " + e.getValue().substring(0, Math.min(12, e.getValue().length())) + "…");
            }
        }
        return d;
    }

    private static void diff(List<String> out, String what, int expected, int actual) {
        if (expected != 0 && expected != actual) out.add(what + " " + expected + " vs the model's " + actual);
    }

    static String sha256(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) b.putFloat(v);
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b.array()));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }
}
