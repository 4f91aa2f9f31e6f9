package dev.tiller.steering.file;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.steering.Positions;
import dev.tiller.steering.Steering;
import dev.tiller.steering.SteeringVector;
import dev.tiller.steering.file.proto.LayerDirectionMessage;
import dev.tiller.steering.file.proto.ModelFingerprintMessage;
import dev.tiller.steering.file.proto.PositionsMessage;
import dev.tiller.steering.file.proto.ProvenanceMessage;
import dev.tiller.steering.file.proto.SteeringFileMessage;
import dev.tiller.steering.file.proto.SteeringVectorMessage;
import dev.tiller.steering.file.proto.TensorDigestMessage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Tiller's steering file ({@code .steer}): Protobuf, schema {@code steering/src/main/proto/tiller_steering.proto}.
 * Holds vectors (site, layers, scale, positions, method), the fingerprint of the model they were made for, and
 * provenance with training configuration and metrics. {@link #checkModel} refuses another model before any vector is
 * applied.
 */
public record SteeringFile(ModelFingerprint model, List<SteeringVector> vectors, Provenance provenance, List<float[]> prefixVectors) {
    public static final int FORMAT_VERSION = 1;
    /** A .steer file is read whole; real ones hold a few vectors of n_embd floats per layer (a few MB at most). */
    public static final long MAX_FILE_BYTES = 256L << 20;

    public SteeringFile {
        if (model == null) throw new IllegalArgumentException("steering file: model fingerprint is null");
        vectors = List.copyOf(vectors);
        prefixVectors = prefixVectors == null ? List.of() : prefixVectors.stream().map(float[]::clone).toList();
        if (vectors.isEmpty() && prefixVectors.isEmpty()) throw new IllegalArgumentException("steering file: no vectors");
        for (float[] v : prefixVectors) {
            if (v.length != model.embeddingLength()) {
                throw new IllegalArgumentException("steering file: a prefix vector has " + v.length + " values, the model's n_embd is " + model.embeddingLength());
            }
        }
        provenance = provenance == null ? Provenance.empty() : provenance;
    }

    /** A file of steering vectors only (no prefix vectors). */
    public SteeringFile(ModelFingerprint model, List<SteeringVector> vectors, Provenance provenance) {
        this(model, vectors, provenance, List.of());
    }

    public static SteeringFile read(Path path) {
        byte[] bytes;
        try {
            long size = Files.size(path);
            if (size > MAX_FILE_BYTES) {
                throw new SteeringFileException(path + ": file of " + size + " bytes is over the limit of " + MAX_FILE_BYTES + " bytes for a .steer file");
            }
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new SteeringFileException(path + ": no such file");
        } catch (IOException e) {
            throw new SteeringFileException(path + ": " + e.getMessage(), e);
        }
        return fromBytes(bytes, path.toString());
    }

    public void write(Path path) {
        try {
            Files.write(path, toBytes());
        } catch (IOException e) {
            throw new SteeringFileException(path + ": cannot write: " + e.getMessage(), e);
        }
    }

    /** Throws, listing every difference, unless this file was made for a model like {@code m}. */
    public void checkModel(Model m, String fileName) {
        List<String> d = model.differencesFrom(ModelFingerprint.of(m));
        if (!d.isEmpty()) {
            throw new SteeringFileException(fileName + " was made for another model (" + String.join("; ", d) + "): refusing to apply it to " + m.path());
        }
        for (SteeringVector v : vectors) {
            try {
                Steering.check(v, m.config());
            } catch (SteeringFileException e) {
                throw e;
            } catch (IllegalArgumentException e) {
                // one exception type, naming the file, for everything wrong with a .steer file (docs/hardening.md)
                throw new SteeringFileException(fileName + ": " + e.getMessage(), e);
            }
        }
    }

    public byte[] toBytes() {
        SteeringFileMessage.Builder b = SteeringFileMessage.newBuilder().setFormatVersion(FORMAT_VERSION).setModel(toMessage(model));
        for (SteeringVector v : vectors) b.addVectors(toMessage(v));
        for (int k = 0; k < prefixVectors.size(); k++) b.addPrefixVectors(direction(k, prefixVectors.get(k)));
        b.setProvenance(ProvenanceMessage.newBuilder().setTool(provenance.tool()).setCreatedUtc(provenance.createdUtc())
                .setSourceModel(provenance.sourceModel()).setDescription(provenance.description())
                .putAllTrainingConfig(provenance.trainingConfig()).putAllMetrics(provenance.metrics()));
        return b.build().toByteArray();
    }

    public static SteeringFile fromBytes(byte[] bytes, String source) {
        SteeringFileMessage m;
        try {
            m = SteeringFileMessage.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new SteeringFileException(source + ": not a Tiller steering file (Protobuf parse error: " + e.getMessage() + ")", e);
        }
        if (m.getFormatVersion() != FORMAT_VERSION) {
            throw new SteeringFileException(source + ": format_version " + m.getFormatVersion() + " is not one this reader knows (" + FORMAT_VERSION
                    + ")" + (m.getFormatVersion() == 0 ? " — is this a .steer file?" : ""));
        }
        if (!m.hasModel()) throw new SteeringFileException(source + ": no model fingerprint");
        if (m.getVectorsCount() == 0 && m.getPrefixVectorsCount() == 0) throw new SteeringFileException(source + ": no vectors");
        List<SteeringVector> vs = new ArrayList<>();
        for (int i = 0; i < m.getVectorsCount(); i++) vs.add(fromMessage(m.getVectors(i), source + ": vector " + i));
        ProvenanceMessage p = m.getProvenance();
        Provenance prov = new Provenance(p.getTool(), p.getCreatedUtc(), p.getSourceModel(), p.getDescription(),
                new LinkedHashMap<>(new TreeMap<>(p.getTrainingConfigMap())), new LinkedHashMap<>(new TreeMap<>(p.getMetricsMap())));
        List<float[]> prefix = new ArrayList<>();
        for (int k = 0; k < m.getPrefixVectorsCount(); k++) {
            LayerDirectionMessage l = m.getPrefixVectors(k);
            if (l.getLayer() != k) throw new SteeringFileException(source + ": prefix vector " + k + " is numbered " + l.getLayer());
            prefix.add(values(l));
        }
        try {
            return new SteeringFile(fromMessage(m.getModel()), vs, prov, prefix);
        } catch (IllegalArgumentException e) {
            throw new SteeringFileException(source + ": " + e.getMessage(), e);
        }
    }

    private static ModelFingerprintMessage toMessage(ModelFingerprint f) {
        ModelFingerprintMessage.Builder b = ModelFingerprintMessage.newBuilder().setArchitecture(f.architecture())
                .setEmbeddingLength(f.embeddingLength()).setBlockCount(f.blockCount()).setVocabSize(f.vocabSize())
                .setHeadCount(f.headCount()).setHeadCountKv(f.headCountKv()).setFeedForwardLength(f.feedForwardLength());
        f.tensorDigests().forEach((k, v) -> b.addTensorDigests(TensorDigestMessage.newBuilder().setTensor(k).setSha256Hex(v)));
        return b.build();
    }

    private static ModelFingerprint fromMessage(ModelFingerprintMessage m) {
        Map<String, String> d = new LinkedHashMap<>();
        for (TensorDigestMessage t : m.getTensorDigestsList()) d.put(t.getTensor(), t.getSha256Hex());
        return new ModelFingerprint(m.getArchitecture(), m.getEmbeddingLength(), m.getBlockCount(), m.getVocabSize(), m.getHeadCount(),
                m.getHeadCountKv(), m.getFeedForwardLength(), d);
    }

    private static SteeringVectorMessage toMessage(SteeringVector v) {
        SteeringVectorMessage.Builder b = SteeringVectorMessage.newBuilder().setName(v.name()).setSite(v.site().suffix)
                .setScale(v.scale()).setMethod(v.method()).setNormPreserving(v.normPreserving());
        v.directions().forEach((layer, d) -> b.addLayers(direction(layer, d)));
        Positions p = v.positions();
        PositionsMessage.Builder pb = PositionsMessage.newBuilder().setKind(PositionsMessage.Kind.valueOf(p.kind().name()))
                .setStart(p.start()).setEnd(p.end());
        for (int i : p.indices()) pb.addIndices(i);
        return b.setPositions(pb).build();
    }

    private static SteeringVector fromMessage(SteeringVectorMessage m, String where) {
        HookSite site = null;
        for (HookSite s : HookSite.values()) if (s.perLayer && s.suffix.equals(m.getSite())) site = s;
        if (site == null) {
            throw new SteeringFileException(where + ": unknown hook site '" + m.getSite() + "' (expected hook_resid_pre, hook_attn_out, "
                    + "hook_resid_mid, hook_mlp_out or hook_resid_post)");
        }
        Map<Integer, float[]> dirs = new TreeMap<>();
        for (LayerDirectionMessage l : m.getLayersList()) {
            if (dirs.put(l.getLayer(), values(l)) != null) throw new SteeringFileException(where + ": layer " + l.getLayer() + " appears twice");
        }
        PositionsMessage pm = m.getPositions();
        if (pm.getKind() == PositionsMessage.Kind.UNRECOGNIZED) throw new SteeringFileException(where + ": unknown positions kind " + pm.getKindValue());
        try {
            Positions pos = new Positions(Positions.Kind.valueOf(pm.getKind().name()), pm.getStart(), pm.getEnd(),
                    pm.getIndicesList().stream().mapToInt(Integer::intValue).toArray());
            return new SteeringVector(m.getName(), site, dirs, m.hasScale() ? m.getScale() : 1f, m.getMethod(), pos, m.getNormPreserving());
        } catch (IllegalArgumentException e) {
            throw new SteeringFileException(where + ": " + e.getMessage(), e);
        }
    }

    private static LayerDirectionMessage direction(int index, float[] d) {
        LayerDirectionMessage.Builder lb = LayerDirectionMessage.newBuilder().setLayer(index);
        for (float f : d) lb.addValues(f);
        return lb.build();
    }

    private static float[] values(LayerDirectionMessage l) {
        float[] d = new float[l.getValuesCount()];
        for (int i = 0; i < d.length; i++) d[i] = l.getValues(i);
        return d;
    }
}
