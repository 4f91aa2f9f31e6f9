package dev.tiller.engine.model;

import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import dev.tiller.loader.TensorSource;
import dev.tiller.loader.gguf.GGUFMetadata;
import dev.tiller.models.arch.Architecture;
import dev.tiller.models.arch.Architectures;
import dev.tiller.models.arch.Gemma2;
import dev.tiller.models.arch.RopeStyle;
import dev.tiller.models.arch.Weight;

import static dev.tiller.models.arch.ConfigKey.*;

/** Reads a {@link ModelConfig} from GGUF metadata, with llama.cpp's key names ({@code ConfigKey}) and defaults. */
public final class GGUFModelConfig {

    public static ModelConfig read(GGUFMetadata md, TensorSource tensors) {
        String archName = md.getString("general.architecture");
        Architecture arch = Architectures.byGgufName(archName);
        if (arch == null) {
            throw new ModelFormatException(md.source() + ": general.architecture '" + archName + "' is not supported (" + Architectures.supported() + ")");
        }
        int dim = md.getInt(EMBEDDING_LENGTH.ggufKey(arch), 1, 1 << 20);
        int layers = md.getInt(BLOCK_COUNT.ggufKey(arch), 1, 4096);
        int heads = md.getInt(HEAD_COUNT.ggufKey(arch), 1, 4096);
        int kvHeads = md.getInt(HEAD_COUNT_KV.ggufKey(arch), 1, heads, heads);
        if (heads % kvHeads != 0) {
            throw new ModelFormatException(md.source() + ": " + HEAD_COUNT.ggufKey(arch) + " " + heads + " is not a multiple of head_count_kv " + kvHeads);
        }
        int headDim = md.getInt(KEY_LENGTH.ggufKey(arch), 1, 1 << 16, dim / heads);
        int ropeDims = md.getInt(ROPE_DIMENSION_COUNT.ggufKey(arch), 2, headDim, headDim);
        int ffn = md.getInt(FEED_FORWARD_LENGTH.ggufKey(arch), 1, 1 << 24);
        int ctx = md.getInt(CONTEXT_LENGTH.ggufKey(arch), 1, Integer.MAX_VALUE, 2048);
        float eps = (float) md.getDouble(RMS_EPS.ggufKey(arch), 1e-5);
        float theta = (float) md.getDouble(ROPE_FREQ_BASE.ggufKey(arch), 10000.0);
        float freqScale = 1f;
        String scaling = md.getString(ROPE_SCALING.ggufKey(arch), "none");
        if (scaling.equals("linear")) {
            double factor = md.getDouble(ROPE_SCALING_FACTOR.ggufKey(arch), 1.0);
            if (factor <= 0) throw new ModelFormatException(md.source() + ": " + ROPE_SCALING_FACTOR.ggufKey(arch) + " must be > 0, got " + factor);
            freqScale = (float) (1.0 / factor);
        } else if (!scaling.equals("none")) {
            throw new ModelFormatException(md.source() + ": " + ROPE_SCALING.ggufKey(arch) + " '" + scaling + "' is not supported (none, linear, or rope_freqs.weight)");
        }
        String embdName = Weight.TOKEN_EMBD.ggufName(0);
        Tensor embd = tensors.tensor(embdName);
        if (embd.dims() != 2 || embd.ne(0) != dim) {
            throw new ModelFormatException(tensors.describe() + ": tensor '" + embdName + "' has shape " + embd.shapeString() + ", expected [" + dim + ", n_vocab]");
        }
        int vocab = Math.toIntExact(embd.ne(1));
        float[] freqFactors = RopeFreqFactors.fromTensor(tensors.tensorOrNull(Weight.ROPE_FREQS.ggufName(0)), ropeDims, tensors.describe());
        boolean neox = arch.ggufRope() == RopeStyle.NEOX;
        int window = arch.reads(SLIDING_WINDOW) ? md.getInt(SLIDING_WINDOW.ggufKey(arch), 0, Integer.MAX_VALUE, 0) : 0;
        float attnCap = arch.reads(ATTN_LOGIT_SOFTCAPPING) ? positive(md, ATTN_LOGIT_SOFTCAPPING.ggufKey(arch)) : 0f;
        float finalCap = arch.reads(FINAL_LOGIT_SOFTCAPPING) ? positive(md, FINAL_LOGIT_SOFTCAPPING.ggufKey(arch)) : 0f;
        double scalar = headDim;
        if (arch.reads(QUERY_PRE_ATTN_SCALAR)) {
            // llama.cpp stores no such key; Tiller's writer does, and without it llama.cpp's own rule applies
            scalar = md.has(QUERY_PRE_ATTN_SCALAR.ggufKey(arch)) ? positive(md, QUERY_PRE_ATTN_SCALAR.ggufKey(arch))
                    : Gemma2.defaultQueryPreAttnScalar(layers, dim, heads, headDim);
        }
        return new ModelConfig(arch, dim, layers, heads, kvHeads, headDim, ffn, vocab, ctx, eps, theta, ropeDims, neox, freqFactors, freqScale,
                (float) (1.0 / Math.sqrt(scalar)), attnCap, finalCap, window, 0f);
    }

    /** An optional positive float key: 0 when absent, an error naming the key when not positive. */
    private static float positive(GGUFMetadata md, String key) {
        if (!md.has(key)) return 0f;
        double v = md.getDouble(key);
        if (!(v > 0) || Double.isInfinite(v)) throw new ModelFormatException(md.source() + ": " + key + " must be a positive number, got " + v);
        return (float) v;
    }

    private GGUFModelConfig() {}
}
