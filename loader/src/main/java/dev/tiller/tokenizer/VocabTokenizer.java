package dev.tiller.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;

/**
 * The {@link Tokenizer} over a {@link Vocabulary}: splits out special tokens, encodes the text fragments with the
 * vocabulary's algorithm, adds BOS/EOS, and renders tokens back to bytes.
 */
final class VocabTokenizer implements Tokenizer, TokenRenderer {
    private static final int NOT_RENDERED = TokenAttr.CONTROL | TokenAttr.UNKNOWN;

    private final Vocabulary vocab;
    private final FragmentEncoder encoder;
    private final SpecialTokenSplitter splitter;
    private final byte[][] pieces;
    /** SentencePiece/WordPiece text starts with a marker space that decoding drops from the first text token. */
    private final boolean dropLeadingSpace;

    VocabTokenizer(Vocabulary vocab, FragmentEncoder encoder) {
        this.vocab = vocab;
        this.encoder = encoder;
        this.splitter = new SpecialTokenSplitter(vocab);
        this.dropLeadingSpace = vocab.addSpacePrefix || vocab.model == VocabModel.WPM;
        this.pieces = new byte[vocab.size()][];
        for (int id = 0; id < pieces.length; id++) pieces[id] = piece(id);
    }

    Vocabulary vocabulary() {
        return vocab;
    }

    FragmentEncoder encoder() {
        return encoder;
    }

    private byte[] piece(int id) {
        String text = vocab.texts[id];
        int attr = vocab.attrs[id];
        if ((attr & (TokenAttr.CONTROL | TokenAttr.UNKNOWN | TokenAttr.USER_DEFINED)) != 0) {
            return text.getBytes(StandardCharsets.UTF_8);
        }
        if ((attr & TokenAttr.BYTE) != 0) {
            int b = parseByteToken(text);
            return b >= 0 ? new byte[] {(byte) b} : text.getBytes(StandardCharsets.UTF_8);
        }
        if ((attr & TokenAttr.NORMAL) == 0) return new byte[0]; // unused / undefined tokens render as nothing
        if (vocab.model == VocabModel.BPE) return byteLevelDecode(text);
        return text.replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
    }

    /** {@code <0xNN>} → NN, or -1. */
    private static int parseByteToken(String text) {
        if (text.length() != 6 || !text.startsWith("<0x") || text.charAt(5) != '>') return -1;
        try {
            return Integer.parseInt(text.substring(3, 5), 16);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static byte[] byteLevelDecode(String text) {
        byte[] out = new byte[text.length() * 3];
        int n = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            int b = ByteUnicode.charToByte(c);
            if (b >= 0) {
                out[n++] = (byte) b;
            } else { // not a byte-level char (hand-made vocabularies): keep the character itself
                byte[] raw = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                System.arraycopy(raw, 0, out, n, raw.length);
                n += raw.length;
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    @Override
    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        if (text == null) throw new IllegalArgumentException("text is null");
        IntList out = new IntList(text.length() / 3 + 4);
        if (addSpecial && vocab.addBos) out.add(vocab.bos);
        boolean afterSpecial = true;
        for (SpecialTokenSplitter.Fragment f : splitter.split(text, parseSpecial)) {
            if (f.isText()) {
                encoder.encode(text.substring(f.start(), f.end()), afterSpecial, out);
                afterSpecial = false;
            } else {
                out.add(f.token());
                afterSpecial = true;
            }
        }
        if (addSpecial && vocab.addEos) out.add(vocab.eos);
        if (addSpecial && vocab.model == VocabModel.WPM && vocab.addSep && vocab.sep >= 0) out.add(vocab.sep);
        return out.toArray();
    }

    @Override
    public String decode(int[] ids) {
        return decode(ids, false);
    }

    @Override
    public String decode(int[] ids, boolean renderSpecial) {
        ByteBuf buf = new ByteBuf();
        State state = new State(false);
        for (int id : ids) render(id, renderSpecial, state, buf);
        return new String(buf.array(), 0, buf.size(), StandardCharsets.UTF_8);
    }

    @Override
    public void render(int id, boolean renderSpecial, State state, ByteBuf out) {
        checkId(id);
        int attr = vocab.attrs[id];
        byte[] p = pieces[id];
        if ((attr & NOT_RENDERED) != 0) {
            // control tokens (BOS...) before the text do not end its start
            if (renderSpecial) out.append(p, 0, p.length);
            return;
        }
        int from = 0;
        if (state.atTextStart && dropLeadingSpace && (attr & TokenAttr.USER_DEFINED) == 0 && p.length > 0 && p[0] == ' ') from = 1;
        if (p.length > 0) state.atTextStart = false;
        out.append(p, from, p.length - from);
    }

    @Override
    public byte[] tokenBytes(int id) {
        checkId(id);
        return pieces[id].clone();
    }

    @Override
    public int vocabSize() {
        return vocab.size();
    }

    @Override
    public String tokenText(int id) {
        checkId(id);
        return vocab.texts[id];
    }

    @Override
    public int bosId() {
        return vocab.bos;
    }

    @Override
    public int eosId() {
        return vocab.eos;
    }

    @Override
    public boolean addsBos() {
        return vocab.addBos;
    }

    @Override
    public int[] endOfGenerationIds() {
        return vocab.endOfGeneration.clone();
    }

    @Override
    public boolean isEndOfGeneration(int id) {
        return java.util.Arrays.binarySearch(vocab.endOfGeneration, id) >= 0;
    }

    @Override
    public boolean isSpecial(int id) {
        checkId(id);
        return (vocab.attrs[id] & NOT_RENDERED) != 0;
    }

    @Override
    public OptionalInt tokenId(String text) {
        int id = vocab.ids.get(text);
        return id >= 0 ? OptionalInt.of(id) : OptionalInt.empty();
    }

    @Override
    public StreamingDecoder newStreamingDecoder() {
        return new StreamingDecoder(this, false, false);
    }

    @Override
    public StreamingDecoder newStreamingDecoder(boolean renderSpecial, boolean continuation) {
        return new StreamingDecoder(this, renderSpecial, continuation);
    }

    private void checkId(int id) {
        if (id < 0 || id >= pieces.length) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + pieces.length + ") of " + vocab.source);
        }
    }

    @Override
    public String toString() {
        return "Tokenizer[" + vocab.model + ", " + vocab.size() + " tokens, " + vocab.source + "]";
    }
}
