package dev.tiller.loader;

import java.util.Map;

/**
 * A set of memory-mapped tensors under GGUF names ({@code token_embd.weight}, {@code blk.0.attn_q.weight}, ...),
 * whatever file format they came from.
 */
public interface TensorSource extends AutoCloseable {

    Map<String, Tensor> tensors();

    default Tensor tensor(String name) {
        Tensor t = tensors().get(name);
        if (t == null) throw new ModelFormatException(describe() + ": missing tensor '" + name + "'");
        return t;
    }

    default Tensor tensorOrNull(String name) {
        return tensors().get(name);
    }

    /** A short description (usually the path) used in error messages. */
    String describe();

    @Override
    void close();
}
