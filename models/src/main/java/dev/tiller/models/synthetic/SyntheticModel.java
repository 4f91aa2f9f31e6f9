package dev.tiller.models.synthetic;

import dev.tiller.loader.GGMLType;
import dev.tiller.loader.gguf.GGUFValue;
import dev.tiller.loader.gguf.GGUFWriter;
import dev.tiller.loader.gguf.TensorBytes;
import dev.tiller.loader.safetensors.SafetensorsWriter;
import dev.tiller.models.arch.Architecture;
import dev.tiller.models.arch.Architectures;
import dev.tiller.models.arch.ConfigKey;
import dev.tiller.models.arch.RopeFrequencies;
import dev.tiller.models.arch.Weight;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * Writes random-weight models of real architectures (llama, qwen2, qwen3, gemma2) as GGUF files or Hugging Face folders, for
 * tests and benchmarks. Weights are drawn from a seeded normal distribution (std {@value WeightGenerator#WEIGHT_STD};
 * norm gains around 1), row by row, so the same seed always gives the same bytes and a model of any size streams to
 * disk without being held in memory.
 *
 * <p>The GGUF and HF copies of one seed hold the same weights. As llama.cpp's converter does, the GGUF copy of a
 * <em>llama</em> model has the rows of Q and K permuted (HF rotate-half RoPE → GGUF interleaved RoPE); 1-D tensors
 * (norms, biases) are stored as F32 in GGUF, holding exactly the values the F16/BF16 HF copy holds. For gemma the HF
 * copy's norm weights are the GGUF ones minus 1, as llama.cpp's converter adds 1 ({@link Architecture#hfNormOffset}).
 *
 * <pre>{@code
 * SyntheticModel.preset("tiny-qwen3").withSeed(1).writeGguf(path, GGMLType.F32, tokenizerSource);
 * SyntheticModel.preset("tiny-qwen3").withSeed(1).writeHuggingFace(dir, GGMLType.F32, tokenizerSource);
 * }</pre>
 *
 * <p>Quantized GGUF types (Q8_0, Q4_0, Q4_K, ...) need a quantizer {@code (type, row) -> bytes}: by default the
 * kernels module's {@code Quantizer.quantize} when it is on the class path ({@link KernelsQuantizer}), or one given
 * to {@link #withQuantizer} ({@code null} for none). Matrices whose rows are not a multiple of
 * the type's block size get llama.cpp's fallback type (Q4_K → Q5_0, ...; F16 for the others), and 1-D tensors are
 * always F32, as llama.cpp does.
 */
public final class SyntheticModel {
    private final ModelShape shape;
    private final long seed;
    private final BiFunction<GGMLType, float[], byte[]> quantizer;

    private SyntheticModel(ModelShape shape, long seed, BiFunction<GGMLType, float[], byte[]> quantizer) {
        this.shape = shape;
        this.seed = seed;
        this.quantizer = quantizer;
    }

    /** One of {@link Presets#names()}: tiny-llama, tiny-qwen2, tiny-qwen3, tiny-gemma2, qwen2.5-0.5b, smollm2-135m, llama-3.2-1b. */
    public static SyntheticModel preset(String name) {
        return new SyntheticModel(Presets.get(name), 0, KernelsQuantizer.get());
    }

    public static SyntheticModel of(ModelShape shape) {
        return new SyntheticModel(shape, 0, KernelsQuantizer.get());
    }

    public SyntheticModel withSeed(long newSeed) {
        return new SyntheticModel(shape, newSeed, quantizer);
    }

    /** Supplies the quantizer for quantized output types: {@code (type, row) -> the row's bytes in that type}. */
    public SyntheticModel withQuantizer(BiFunction<GGMLType, float[], byte[]> q) {
        return new SyntheticModel(shape, seed, q);
    }

    public SyntheticModel withVocab(int vocab) {
        return new SyntheticModel(shape.withVocab(vocab), seed, quantizer);
    }

    public ModelShape shape() {
        return shape;
    }

    public long seed() {
        return seed;
    }

    /** The shape actually written with this tokenizer: tiny presets adopt the tokenizer's vocabulary size. */
    public ModelShape shapeFor(TokenizerSource tokenizer) {
        if (tokenizer != null && Presets.isTiny(shape) && shape.vocab() != tokenizer.vocabSize()) return shape.withVocab(tokenizer.vocabSize());
        return shape;
    }

    /** Writes a GGUF with the built-in byte-level tokenizer ({@link TokenizerSource#byteLevel}). */
    public void writeGguf(Path file, GGMLType type) {
        writeGguf(file, type, (TokenizerSource) null);
    }

    /** Writes a GGUF with the tokenizer of {@code tokenizerSource}: a GGUF file or an HF tokenizer folder. */
    public void writeGguf(Path file, GGMLType type, Path tokenizerSource) {
        writeGguf(file, type, tokenizerSource == null ? null : TokenizerSource.of(tokenizerSource));
    }

    /** Writes a GGUF with {@code tokenizer}'s vocabulary; null means the built-in byte-level one, so the file always loads. */
    public void writeGguf(Path file, GGMLType type, TokenizerSource tokenizer) {
        writeGguf(file, type, null, tokenizer);
    }

    /** Writes a GGUF whose matrices follow llama.cpp's {@code mix} (e.g. Q4_K_M); see {@link QuantMix}. */
    public void writeGguf(Path file, QuantMix mix, TokenizerSource tokenizer) {
        writeGguf(file, mix.base(), mix, tokenizer);
    }

    private void writeGguf(Path file, GGMLType type, QuantMix mix, TokenizerSource tokenizer) {
        if (tokenizer == null) tokenizer = TokenizerSource.byteLevel(shape.bosTokenId(), shape.eosTokenId(), shape.vocab());
        ModelShape s = shapeFor(tokenizer);
        GGUFWriter w = new GGUFWriter();
        ggufMetadata(w, s, type);
        if (mix != null) w.putUInt32("general.file_type", mix.fileType);
        if (tokenizer != null) {
            for (Map.Entry<String, GGUFValue> e : tokenizer.ggufMetadata(s.vocab()).entrySet()) w.put(e.getKey(), e.getValue());
        }
        for (TensorPlan.Entry e : TensorPlan.of(s)) {
            if (e.weight() == Weight.ROPE_FREQS) {
                ModelShape.Llama3RopeScaling sc = s.ropeScaling();
                float[] f = RopeFrequencies.llama3Factors(s.headDim(), s.ropeTheta(), sc.factor(), sc.lowFreqFactor(), sc.highFreqFactor(),
                        sc.originalContextLength());
                byte[] b = new byte[4 * f.length];
                new RowEncoder(GGMLType.F32, null).encode(f, b);
                w.addTensor(e.ggufName(), GGMLType.F32, e.ggmlShape(), b);
                continue;
            }
            GGMLType t = ggufTypeOf(e, mix == null ? type : mix.typeOf(e.weight(), e.layer(), s.layers(), s.tiedEmbeddings()));
            w.addTensor(e.ggufName(), t, e.ggmlShape(), rows(e, new RowEncoder(t, quantizer), roundingOf(type), true));
        }
        w.write(file);
    }

    /** Writes config.json and model.safetensors into {@code dir} (created if needed), without tokenizer files. */
    public void writeHuggingFace(Path dir, GGMLType type) {
        writeHuggingFace(dir, type, (TokenizerSource) null, 0);
    }

    /** Writes config.json, model.safetensors and the tokenizer's files into {@code dir} (created if needed). */
    public void writeHuggingFace(Path dir, GGMLType type, Path tokenizerSource) {
        writeHuggingFace(dir, type, tokenizerSource == null ? null : TokenizerSource.of(tokenizerSource), 0);
    }

    /**
     * As {@link #writeHuggingFace(Path, GGMLType, Path)}; with {@code maxShardBytes > 0} the weights are split into
     * {@code model-0000i-of-0000n.safetensors} shards with a {@code model.safetensors.index.json}.
     */
    public void writeHuggingFace(Path dir, GGMLType type, TokenizerSource tokenizer, long maxShardBytes) {
        if (!RowEncoder.isPlainFloat(type)) throw new IllegalArgumentException("HF safetensors output supports F32, F16 and BF16, not " + type);
        ModelShape s = shapeFor(tokenizer);
        try {
            Files.createDirectories(dir);
            int bos = tokenizer != null && tokenizer.bosTokenId() != null ? tokenizer.bosTokenId() : s.bosTokenId();
            int eos = tokenizer != null && tokenizer.eosTokenId() != null ? tokenizer.eosTokenId() : s.eosTokenId();
            Files.writeString(dir.resolve("config.json"), HFConfigJson.of(s, type, bos, eos));
            if (tokenizer != null) {
                for (Path p : tokenizer.hfFiles()) Files.copy(p, dir.resolve(p.getFileName().toString()), StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot write model folder: " + e.getMessage(), e);
        }
        SafetensorsWriter w = new SafetensorsWriter().putMetadata("format", "pt");
        RowEncoder encoder = new RowEncoder(type, null);
        for (TensorPlan.Entry e : TensorPlan.of(s)) {
            if (e.ggufOnly()) continue;
            w.add(e.hfName(), type, e.hfShape(), rows(e, encoder, null, false));
        }
        if (maxShardBytes > 0) w.writeSharded(dir, maxShardBytes);
        else w.write(dir.resolve("model.safetensors"));
    }

    /**
     * The type a tensor gets in GGUF: 1-D tensors F32; matrices the requested type when their rows fit its blocks,
     * else llama.cpp's fallback for k-quants (Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0), else F16.
     */
    static GGMLType ggufTypeOf(TensorPlan.Entry e, GGMLType requested) {
        if (!e.isMatrix()) return GGMLType.F32;
        if (e.rowLength() % requested.blockSize == 0) return requested;
        GGMLType fallback = switch (requested) {
            case Q4_K -> GGMLType.Q5_0;
            case Q5_K -> GGMLType.Q5_1;
            case Q6_K -> GGMLType.Q8_0;
            default -> GGMLType.F16;
        };
        return e.rowLength() % fallback.blockSize == 0 ? fallback : GGMLType.F16;
    }

    /** F32 1-D tensors of an F16/BF16 model hold values rounded to that type, so GGUF and HF copies agree exactly. */
    private static GGMLType roundingOf(GGMLType requested) {
        return requested == GGMLType.F16 || requested == GGMLType.BF16 ? requested : null;
    }

    /** Streams a tensor's rows; for GGUF llama Q/K the rows come out in llama.cpp's permuted order. */
    private TensorBytes rows(TensorPlan.Entry e, RowEncoder encoder, GGMLType rounding, boolean gguf) {
        WeightGenerator gen = new WeightGenerator(seed, e.hfName(), e.init());
        int rowLen = e.rowLength();
        long rows = e.rows();
        int permuteHeads = gguf ? e.ropeHeads() : 0;
        boolean roundVector = !e.isMatrix() && rounding != null;
        float offset = e.hfNormOffset();
        return out -> {
            float[] row = new float[rowLen];
            byte[] buf = new byte[(int) encoder.rowBytes(rowLen)];
            for (long r = 0; r < rows; r++) {
                gen.row(permuteHeads > 0 ? hfRowOfPermuted(r, rows, permuteHeads) : r, row);
                // the HF value first (a gemma norm without its 1), rounded as the HF copy stores it; GGUF adds 1 back
                if (offset != 0) for (int i = 0; i < rowLen; i++) row[i] -= offset;
                if (roundVector) round(row, rounding);
                if (offset != 0 && gguf) for (int i = 0; i < rowLen; i++) row[i] += offset;
                out.write(encoder.encode(row, buf));
            }
        };
    }

    /**
     * convert_hf_to_gguf's {@code LlamaModel.permute}: within each head of {@code d} rows, GGUF row {@code 2i + j}
     * is HF row {@code j * d/2 + i} (reshape (heads, 2, d/2) → swap the last two axes).
     */
    static long hfRowOfPermuted(long ggufRow, long rows, int heads) {
        long headDim = rows / heads;
        long head = ggufRow / headDim;
        long within = ggufRow % headDim;
        long i = within / 2, j = within % 2;
        return head * headDim + j * (headDim / 2) + i;
    }

    private static void round(float[] row, GGMLType type) {
        for (int i = 0; i < row.length; i++) {
            row[i] = type == GGMLType.F16
                    ? Float.float16ToFloat(Float.floatToFloat16(row[i]))
                    : Float.intBitsToFloat((RowEncoder.toBf16(row[i]) & 0xFFFF) << 16);
        }
    }

    private void ggufMetadata(GGUFWriter w, ModelShape s, GGMLType type) {
        Architecture a = s.arch();
        w.putString("general.architecture", a.name());
        w.putString("general.name", s.name());
        w.putUInt32("general.file_type", fileType(type));
        if (type.isQuantized()) w.putUInt32("general.quantization_version", 2);
        w.putUInt32(ConfigKey.VOCAB_SIZE.ggufKey(a), s.vocab());
        w.putUInt32(ConfigKey.CONTEXT_LENGTH.ggufKey(a), s.contextLength());
        w.putUInt32(ConfigKey.EMBEDDING_LENGTH.ggufKey(a), s.embd());
        w.putUInt32(ConfigKey.BLOCK_COUNT.ggufKey(a), s.layers());
        w.putUInt32(ConfigKey.FEED_FORWARD_LENGTH.ggufKey(a), s.ff());
        w.putUInt32(ConfigKey.HEAD_COUNT.ggufKey(a), s.heads());
        w.putUInt32(ConfigKey.HEAD_COUNT_KV.ggufKey(a), s.kvHeads());
        // llama.cpp's qwen3 and gemma2 converters always write the head size; the others only when it is not embd / heads
        if (s.explicitHeadDim() || a == Architectures.QWEN3 || a == Architectures.GEMMA2) {
            w.putUInt32(ConfigKey.KEY_LENGTH.ggufKey(a), s.headDim());
            w.putUInt32(ConfigKey.VALUE_LENGTH.ggufKey(a), s.headDim());
        }
        w.putUInt32(ConfigKey.ROPE_DIMENSION_COUNT.ggufKey(a), s.headDim());
        w.putFloat32(ConfigKey.ROPE_FREQ_BASE.ggufKey(a), (float) s.ropeTheta());
        w.putFloat32(ConfigKey.RMS_EPS.ggufKey(a), (float) s.rmsEps());
        ModelShape.Extras x = s.extras();
        if (a.reads(ConfigKey.SLIDING_WINDOW) && x.slidingWindow() > 0) w.putUInt32(ConfigKey.SLIDING_WINDOW.ggufKey(a), x.slidingWindow());
        if (a.reads(ConfigKey.ATTN_LOGIT_SOFTCAPPING) && x.attnLogitSoftcap() > 0) {
            w.putFloat32(ConfigKey.ATTN_LOGIT_SOFTCAPPING.ggufKey(a), (float) x.attnLogitSoftcap());
        }
        if (a.reads(ConfigKey.FINAL_LOGIT_SOFTCAPPING) && x.finalLogitSoftcap() > 0) {
            w.putFloat32(ConfigKey.FINAL_LOGIT_SOFTCAPPING.ggufKey(a), (float) x.finalLogitSoftcap());
        }
        if (a.reads(ConfigKey.QUERY_PRE_ATTN_SCALAR) && x.queryPreAttnScalar() > 0) {
            w.putFloat32(ConfigKey.QUERY_PRE_ATTN_SCALAR.ggufKey(a), (float) x.queryPreAttnScalar());
        }
    }

    /** llama.cpp's {@code llama_ftype} of a model whose matrices are mostly {@code type}. */
    static int fileType(GGMLType type) {
        return switch (type) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q4_1 -> 3;
            case Q8_0 -> 7;
            case Q5_0 -> 8;
            case Q5_1 -> 9;
            case Q4_K -> 14; // Q4_K_S: every matrix Q4_K
            case Q5_K -> 16;
            case Q6_K -> 18;
            case BF16 -> 32;
            default -> throw new IllegalArgumentException("no llama.cpp file type for " + type);
        };
    }

    /** Names of the tensors a GGUF of this model holds, in order (for tests and tools). */
    public List<String> ggufTensorNames(TokenizerSource tokenizer) {
        return TensorPlan.of(shapeFor(tokenizer)).stream().map(TensorPlan.Entry::ggufName).toList();
    }
}
