package dev.tiller.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * Turns generated ids into text incrementally. Bytes of a UTF-8 sequence split across tokens (byte-fallback
 * tokens, byte-level BPE pieces of an emoji) are held back until the sequence is complete, so the concatenation of
 * everything returned equals {@link Tokenizer#decode} of all ids (for a decoder that is not a continuation).
 * SentencePiece's prefix space is dropped from the first text token unless the stream continues earlier text, as
 * generated tokens continue a prompt. Not thread-safe; one per stream.
 */
public final class StreamingDecoder {
    private final TokenRenderer renderer;
    private final boolean renderSpecial;
    private final TokenRenderer.State state;
    private final ByteBuf pending = new ByteBuf();

    StreamingDecoder(TokenRenderer renderer, boolean renderSpecial, boolean continuation) {
        this.renderer = renderer;
        this.renderSpecial = renderSpecial;
        this.state = new TokenRenderer.State(continuation);
    }

    /** Adds one token; returns the text that became complete (possibly empty). */
    public String accept(int id) {
        renderer.render(id, renderSpecial, state, pending);
        int complete = completePrefix();
        if (complete == 0) return "";
        String s = new String(pending.array(), 0, complete, StandardCharsets.UTF_8);
        pending.discard(complete);
        return s;
    }

    /** Returns whatever is still held back (an incomplete sequence decodes to U+FFFD) and resets the buffer. */
    public String flush() {
        String s = new String(pending.array(), 0, pending.size(), StandardCharsets.UTF_8);
        pending.discard(pending.size());
        return s;
    }

    /** Length of the longest prefix that does not end inside an incomplete UTF-8 sequence. */
    private int completePrefix() {
        int n = pending.size();
        for (int back = 1; back <= Math.min(4, n); back++) {
            int b = pending.get(n - back) & 0xFF;
            if ((b & 0xC0) == 0x80) continue; // continuation byte: keep looking for the lead
            int need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            return back < need ? n - back : n;
        }
        return n; // only continuation bytes at the end: malformed, let the decoder replace them
    }
}
