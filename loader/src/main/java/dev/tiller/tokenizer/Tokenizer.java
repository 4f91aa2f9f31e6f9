package dev.tiller.tokenizer;

import java.util.OptionalInt;

/**
 * Text ↔ token ids for one model's vocabulary. Implementations are immutable and thread-safe; streaming decoders
 * are per-stream.
 */
public interface Tokenizer {

    /**
     * Encodes text to token ids.
     *
     * @param addSpecial   add BOS / EOS (or CLS / SEP) as the vocabulary's {@code add_bos_token} / {@code add_eos_token} say
     * @param parseSpecial recognise control tokens such as {@code <|im_start|>} written in the text; when false they
     *                     are tokenized as plain text (user-defined added tokens are always recognised, as in llama.cpp)
     */
    int[] encode(String text, boolean addSpecial, boolean parseSpecial);

    /**
     * Decodes ids as a text of their own, without rendering control tokens; the exact inverse of
     * {@code encode(text, false, false)} for normal text (SentencePiece's prefix space on the first token is dropped).
     */
    String decode(int[] ids);

    /** Decodes ids, rendering control tokens (BOS, {@code <|im_end|>}...) as their text when {@code renderSpecial}. */
    String decode(int[] ids, boolean renderSpecial);

    /** The raw bytes a token stands for when decoding (control tokens: their text). */
    byte[] tokenBytes(int id);

    int vocabSize();

    /** The token's text as stored in the vocabulary (e.g. {@code ▁the}, {@code Ġthe}, {@code <0x0A>}). */
    String tokenText(int id);

    /** BOS id, or -1 if the vocabulary has none. */
    int bosId();

    /** EOS id, or -1 if the vocabulary has none. */
    int eosId();

    /** Whether {@code encode(..., addSpecial=true, ...)} prepends BOS. */
    boolean addsBos();

    /** All ids that end generation: EOS, EOT, EOM, {@code <|im_end|>}, {@code <|endoftext|>}... sorted ascending. */
    int[] endOfGenerationIds();

    default boolean isEndOfGeneration(int id) {
        return java.util.Arrays.binarySearch(endOfGenerationIds(), id) >= 0;
    }

    /** Whether the token is a control or unknown token (not rendered by {@link #decode(int[])}). */
    boolean isSpecial(int id);

    /** The id of the token whose vocabulary text is exactly {@code text}. */
    OptionalInt tokenId(String text);

    /**
     * A streaming decoder equivalent to {@link #decode(int[])}: never splits a UTF-8 sequence, does not render
     * control tokens, drops SentencePiece's prefix space on the first text token.
     */
    StreamingDecoder newStreamingDecoder();

    /**
     * A streaming decoder; {@code renderSpecial} renders control tokens as their text, {@code continuation} means the
     * ids continue an earlier text (generated tokens after a prompt), so a leading space is real and kept.
     */
    StreamingDecoder newStreamingDecoder(boolean renderSpecial, boolean continuation);
}
