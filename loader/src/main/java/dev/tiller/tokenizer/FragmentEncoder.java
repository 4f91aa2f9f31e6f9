package dev.tiller.tokenizer;

/** Encodes one raw-text fragment (special tokens already split out) with a vocabulary's algorithm. */
interface FragmentEncoder {
    /**
     * @param text        the fragment
     * @param afterSpecial whether the fragment starts the text or follows a special token (SentencePiece adds its
     *                    space prefix there)
     */
    void encode(String text, boolean afterSpecial, IntList out);
}
