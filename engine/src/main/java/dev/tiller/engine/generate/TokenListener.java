package dev.tiller.engine.generate;

/** Receives generated text as it becomes complete (whole UTF-8 characters, never a held-back stop-string prefix). */
@FunctionalInterface
public interface TokenListener {
    void onText(String piece);

    TokenListener NONE = piece -> {};
}
