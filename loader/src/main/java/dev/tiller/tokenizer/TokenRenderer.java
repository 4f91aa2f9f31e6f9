package dev.tiller.tokenizer;

/** Appends the bytes of one token to a decode buffer, tracking where SentencePiece's prefix space must be dropped. */
interface TokenRenderer {
    /** Per-stream state: whether the next text token starts a segment (start of text or after a special token). */
    final class State {
        boolean segmentStart = true;
    }

    void render(int id, boolean renderSpecial, State state, ByteBuf out);
}
