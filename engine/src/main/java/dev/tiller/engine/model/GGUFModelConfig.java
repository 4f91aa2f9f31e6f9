package dev.tiller.engine.model;

import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import dev.tiller.loader.TensorSource;
import dev.tiller.loader.gguf.GGUFMetadata;

/** Reads a {@link ModelConfig} from GGUF metadata, with llama.cpp's key names and defaults. */
public final class GGUFModelConfig {

    public static ModelConfig read(GGUFMetadata md, TensorSource tensors) {
        String archName = md.getString("general.architecture");
        Architecture arch = Architecture.fromName(archName);
        if (arch == null) {
            throw new ModelFormatException(md.source() + ": general.architecture '" + archName + "' is not supported (llama, mistral, qwen2, qwen3)");
        }
        String p = archName + ".";
        int dim = md.getInt(p + "embedding_length", 1, 1 << 20);
        int layers = md.getInt(p + "block_count", 1, 4096);
        int heads = md.getInt(p + "attention.head_count", 1, 4096);
        int kvHeads = md.getInt(p + "attention.head_count_kv", 1, heads, heads);
        if (heads % kvHeads != 0) {
            throw new ModelFormatException(md.source() + ": " + p + "attention.head_count " + heads + " is not a multiple of head_count_kv " + kvHeads);
        }
        int headDim = md.getInt(p + "attention.key_length", 1, 1 << 16, dim / heads);
        int ropeDims = md.getInt(p + "rope.dimension_count", 2, headDim, headDim);
        int ffn = md.getInt(p + "feed_forward_length", 1, 1 << 24);
        int ctx = md.getInt(p + "context_length", 1, Integer.MAX_VALUE, 2048);
        float eps = (float) md.getDouble(p + "attention.layer_norm_rms_epsilon", 1e-5);
        float theta = (float) md.getDouble(p + "rope.freq_base", 10000.0);
        float freqScale = 1f;
        String scaling = md.getString(p + "rope.scaling.type", "none");
        if (scaling.equals("linear")) {
            double factor = md.getDouble(p + "rope.scaling.factor", 1.0);
            if (factor <= 0) throw new ModelFormatException(md.source() + ": " + p + "rope.scaling.factor must be > 0, got " + factor);
            freqScale = (float) (1.0 / factor);
        } else if (!scaling.equals("none")) {
            throw new ModelFormatException(md.source() + ": " + p + "rope.scaling.type '" + scaling + "' is not supported (none, linear, or rope_freqs.weight)");
        }
        Tensor embd = tensors.tensor("token_embd.weight");
        if (embd.dims() != 2 || embd.ne(0) != dim) {
            throw new ModelFormatException(tensors.describe() + ": tensor 'token_embd.weight' has shape " + embd.shapeString() + ", expected [" + dim + ", n_vocab]");
        }
        int vocab = Math.toIntExact(embd.ne(1));
        float[] freqFactors = RopeFreqFactors.fromTensor(tensors.tensorOrNull("rope_freqs.weight"), ropeDims, tensors.describe());
        // GGUF llama weights have Q/K rows permuted by the converter for adjacent-pair RoPE; Qwen keeps HF's layout.
        boolean neox = arch != Architecture.LLAMA;
        return new ModelConfig(arch, dim, layers, heads, kvHeads, headDim, ffn, vocab, ctx, eps, theta, ropeDims, neox, freqFactors, freqScale);
    }

    private GGUFModelConfig() {}
}
