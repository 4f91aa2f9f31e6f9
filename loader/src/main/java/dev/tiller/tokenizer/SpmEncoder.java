package dev.tiller.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * SentencePiece-style BPE as in llama.cpp's {@code llm_tokenizer_spm}: start from single code points, repeatedly
 * merge the adjacent pair whose concatenation is the highest-scoring vocabulary token (leftmost on ties), then emit
 * each remaining piece, or its UTF-8 bytes as {@code <0xNN>} tokens when it is not in the vocabulary.
 */
final class SpmEncoder implements FragmentEncoder {
    private static final char SPACE_MARK = '\u2581';
    private final Vocabulary vocab;
    private final int[] byteTokens = new int[256];

    SpmEncoder(Vocabulary vocab) {
        this.vocab = vocab;
        for (int b = 0; b < 256; b++) {
            int id = vocab.ids.get(String.format("<0x%02X>", b));
            if (id < 0 && b < 0x80) id = vocab.ids.get(String.valueOf((char) b));
            byteTokens[b] = id >= 0 ? id : vocab.unk;
        }
    }

    @Override
    public void encode(String fragment, boolean afterSpecial, IntList out) {
        String text = vocab.addSpacePrefix && afterSpecial ? " " + fragment : fragment;
        char[] buf = text.replace(' ', SPACE_MARK).toCharArray();
        if (buf.length == 0) return;
        Session s = new Session(buf);
        s.merge();
        for (int i = 0; i != -1; i = s.next[i]) {
            int id = vocab.ids.get(buf, s.start[i], s.start[i] + s.len[i]);
            if (id >= 0) {
                out.add(id);
            } else {
                byte[] bytes = new String(buf, s.start[i], s.len[i]).getBytes(StandardCharsets.UTF_8);
                for (byte b : bytes) {
                    int t = byteTokens[b & 0xFF];
                    if (t >= 0) out.add(t);
                }
            }
        }
    }

    /** Symbols are code points of the fragment in a doubly linked list; merged-away symbols get length 0. */
    private final class Session {
        final char[] buf;
        final int[] start, len, prev, next;
        final BigramHeap heap = new BigramHeap();

        Session(char[] buf) {
            this.buf = buf;
            int n = Character.codePointCount(buf, 0, buf.length);
            start = new int[n];
            len = new int[n];
            prev = new int[n];
            next = new int[n];
            int off = 0;
            for (int i = 0; i < n; i++) {
                int cpLen = Character.charCount(Character.codePointAt(buf, off));
                start[i] = off;
                len[i] = cpLen;
                off += cpLen;
                prev[i] = i - 1;
                next[i] = i + 1 < n ? i + 1 : -1;
            }
        }

        void merge() {
            for (int i = 1; i < start.length; i++) tryAddBigram(i - 1, i);
            while (!heap.isEmpty()) {
                heap.pop();
                int l = heap.left, r = heap.right;
                // stale candidate: one side was merged away or grew since it was queued
                if (len[l] == 0 || len[r] == 0 || len[l] + len[r] != heap.extra) continue;
                len[l] += len[r];
                len[r] = 0;
                next[l] = next[r];
                if (next[r] >= 0) prev[next[r]] = l;
                tryAddBigram(prev[l], l);
                tryAddBigram(l, next[l]);
            }
        }

        private void tryAddBigram(int l, int r) {
            if (l < 0 || r < 0) return;
            int size = len[l] + len[r];
            int id = vocab.ids.get(buf, start[l], start[l] + size);
            if (id < 0) return;
            heap.push(priority(vocab.scores[id], l), l, r, size);
        }
    }

    /** Higher score first, then lower left index: encoded so that the smaller long pops first. */
    static long priority(float score, int left) {
        int bits = Float.floatToIntBits(score + 0.0f); // +0.0f folds -0.0 into 0.0, as C++ compares them equal
        int ordered = bits >= 0 ? bits : bits ^ 0x7FFFFFFF;
        return ((long) ~ordered << 32) | left;
    }
}
