package dev.tiller.tokenizer;

import dev.tiller.loader.gguf.GGUFMetadata;

import java.nio.file.Path;

/** Entry points: build a {@link Tokenizer} from GGUF metadata or a Hugging Face tokenizer directory. */
public final class Tokenizers {
    /**
     * The largest vocabulary accepted (2^21 = 2,097,152 tokens; the largest real ones hold about 260k). Token ids and
     * {@code vocab_size} values at or past it are rejected before anything is allocated for them.
     */
    public static final int MAX_VOCAB_SIZE = 1 << 21;

    private Tokenizers() {
    }

    /**
     * From GGUF {@code tokenizer.ggml.*} keys: {@code model} (llama = SentencePiece, gpt2 = byte-level BPE, bert =
     * WordPiece), {@code tokens}, {@code scores}, {@code token_type}, {@code merges}, {@code pre}, special ids and
     * {@code add_bos_token} / {@code add_eos_token} / {@code add_space_prefix}.
     *
     * @throws dev.tiller.loader.ModelFormatException naming the file and key when the metadata is missing or unsupported
     */
    public static Tokenizer fromGGUF(GGUFMetadata metadata) {
        return GgufTokenizerLoader.load(metadata);
    }

    /**
     * From a Hugging Face model directory: {@code tokenizer.json} (BPE model), or {@code vocab.json} +
     * {@code merges.txt}; plus {@code tokenizer_config.json}, {@code config.json} and
     * {@code generation_config.json} where present (added tokens, BOS/EOS, end-of-generation ids).
     *
     * @throws dev.tiller.loader.ModelFormatException naming the file and field when a file is malformed or unsupported
     */
    public static Tokenizer fromHuggingFace(Path dir) {
        return HfTokenizerLoader.load(dir);
    }
}
