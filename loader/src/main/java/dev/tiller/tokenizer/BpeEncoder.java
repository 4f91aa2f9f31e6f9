package dev.tiller.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Byte-level BPE as in llama.cpp's {@code llm_tokenizer_bpe}: pre-tokenize into words, map each word's UTF-8 bytes
 * to GPT-2's byte characters, then repeatedly apply the lowest-ranked merge among adjacent pieces (leftmost on
 * ties). Pieces that are not tokens at the end fall back to their single-byte tokens.
 */
final class BpeEncoder implements FragmentEncoder {
    private final Vocabulary vocab;
    private final BpeMerges merges;
    private final PreTokenizer preTokenizer;
    private final boolean ignoreMerges;
    private final int[] bytePiece = new int[256];
    private final int[] byteToken = new int[256];

    BpeEncoder(Vocabulary vocab, BpeMerges merges, PreTokenizer preTokenizer, boolean ignoreMerges) {
        this.vocab = vocab;
        this.merges = merges;
        this.preTokenizer = preTokenizer;
        this.ignoreMerges = ignoreMerges;
        for (int b = 0; b < 256; b++) {
            String s = String.valueOf(ByteUnicode.byteToChar(b));
            bytePiece[b] = merges.pieceOf(s);
            byteToken[b] = vocab.ids.get(s);
        }
    }

    PreTokenizer preTokenizer() {
        return preTokenizer;
    }

    @Override
    public void encode(String text, boolean afterSpecial, IntList out) {
        List<String> words = preTokenizer.split(text);
        Session s = new Session();
        for (String word : words) {
            byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
            char[] enc = new char[bytes.length];
            for (int i = 0; i < bytes.length; i++) enc[i] = ByteUnicode.byteToChar(bytes[i]);
            if (ignoreMerges) {
                int whole = vocab.ids.get(enc, 0, enc.length);
                if (whole >= 0) {
                    out.add(whole);
                    continue;
                }
            }
            s.run(bytes, enc, out);
        }
    }

    /** Reusable merge state; symbols are byte ranges of one word in a linked list, merged-away ones have length 0. */
    private final class Session {
        int[] piece = new int[64], len = new int[64], prev = new int[64], next = new int[64];
        final BigramHeap heap = new BigramHeap();

        void run(byte[] bytes, char[] enc, IntList out) {
            int n = bytes.length;
            if (piece.length < n) {
                piece = new int[n];
                len = new int[n];
                prev = new int[n];
                next = new int[n];
            }
            for (int i = 0; i < n; i++) {
                piece[i] = bytePiece[bytes[i] & 0xFF];
                len[i] = 1;
                prev[i] = i - 1;
                next[i] = i + 1 < n ? i + 1 : -1;
            }
            heap.clear();
            for (int i = 1; i < n; i++) addBigram(i - 1, i);
            while (!heap.isEmpty()) {
                heap.pop();
                int l = heap.left, r = heap.right, rank = heap.extra;
                // stale candidate: a side was merged away or changed since it was queued
                if (len[l] == 0 || len[r] == 0 || piece[l] != merges.left(rank) || piece[r] != merges.right(rank)) continue;
                piece[l] = merges.result(rank);
                len[l] += len[r];
                len[r] = 0;
                next[l] = next[r];
                if (next[r] >= 0) prev[next[r]] = l;
                addBigram(prev[l], l);
                addBigram(l, next[l]);
            }
            int vocabSize = vocab.size();
            for (int i = 0, start = 0; i < n; start += len[i], i++) {
                if (len[i] == 0) continue;
                int p = piece[i];
                if (p >= 0 && p < vocabSize) {
                    out.add(p);
                } else {
                    for (int k = start; k < start + len[i]; k++) {
                        int t = byteToken[bytes[k] & 0xFF];
                        if (t >= 0) out.add(t);
                    }
                }
            }
        }

        private void addBigram(int l, int r) {
            if (l < 0 || r < 0) return;
            int rank = merges.rank(piece[l], piece[r]);
            if (rank < 0) return;
            heap.push(((long) rank << 32) | l, l, r, rank);
        }
    }
}
