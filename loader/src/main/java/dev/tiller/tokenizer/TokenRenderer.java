package dev.tiller.tokenizer;

/** Appends the bytes of one token to a decode buffer, dropping SentencePiece's prefix space at the start of a text. */
interface TokenRenderer {
    /** Per-stream state: whether no text token has been rendered yet (SentencePiece's prefix space is dropped there). */
    final class State {
        boolean atTextStart;

        State(boolean continuation) {
            atTextStart = !continuation;
        }
    }

    void render(int id, boolean renderSpecial, State state, ByteBuf out);
}
