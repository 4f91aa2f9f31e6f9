package dev.tiller.tokenizer;

/** The tokenization algorithm a vocabulary is used with (llama.cpp's vocab types). */
public enum VocabModel {
    /** SentencePiece BPE with scores and {@code <0xNN>} byte fallback ({@code tokenizer.ggml.model = llama}). */
    SPM,
    /** Byte-level BPE with merge ranks and a regex pre-tokenizer ({@code gpt2}). */
    BPE,
    /** WordPiece, greedy longest match ({@code bert}). */
    WPM
}
