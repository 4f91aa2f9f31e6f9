package dev.tiller.tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * BPE merge rules as ranks over interned pieces. A piece is a vocabulary token (piece id = token id) or, for merge
 * operands and results missing from the vocabulary, an extra string with id ≥ vocabulary size. Merging then only
 * compares ints: (left piece, right piece) → rank → result piece.
 */
final class BpeMerges {
    private final Vocabulary vocab;
    private final TokenLookup extraIds = new TokenLookup(64);
    private final List<String> extraTexts = new ArrayList<>();
    private final LongIntMap rankOfPair;
    private int[] mergeLeft, mergeRight, mergeResult;
    private int count;

    BpeMerges(Vocabulary vocab, int expected) {
        this.vocab = vocab;
        this.rankOfPair = new LongIntMap(Math.max(16, expected));
        int cap = Math.max(16, expected);
        mergeLeft = new int[cap];
        mergeRight = new int[cap];
        mergeResult = new int[cap];
    }

    /** Adds the next merge rule (rank = number of rules added before it); an earlier rule for the same pair wins. */
    void add(String left, String right) {
        int rank = count++;
        if (rank == mergeLeft.length) {
            int n = rank * 2;
            mergeLeft = Arrays.copyOf(mergeLeft, n);
            mergeRight = Arrays.copyOf(mergeRight, n);
            mergeResult = Arrays.copyOf(mergeResult, n);
        }
        int l = intern(left), r = intern(right);
        mergeLeft[rank] = l;
        mergeRight[rank] = r;
        mergeResult[rank] = intern(left.concat(right));
        rankOfPair.putIfAbsent(pairKey(l, r), rank);
    }

    int size() {
        return count;
    }

    /** Piece id of a string, or -1 if it is neither a token nor a merge operand/result. */
    int pieceOf(String text) {
        int id = vocab.ids.get(text);
        if (id >= 0) return id;
        int extra = extraIds.get(text);
        return extra >= 0 ? vocab.size() + extra : -1;
    }

    /** The rank of merging two adjacent pieces, or -1. */
    int rank(int leftPiece, int rightPiece) {
        if (leftPiece < 0 || rightPiece < 0) return -1;
        return rankOfPair.get(pairKey(leftPiece, rightPiece));
    }

    int left(int rank) {
        return mergeLeft[rank];
    }

    int right(int rank) {
        return mergeRight[rank];
    }

    int result(int rank) {
        return mergeResult[rank];
    }

    private int intern(String text) {
        int id = vocab.ids.get(text);
        if (id >= 0) return id;
        int extra = extraIds.putIfAbsent(text, extraTexts.size());
        if (extra < 0) {
            extra = extraTexts.size();
            extraTexts.add(text);
        }
        return vocab.size() + extra;
    }

    private static long pairKey(int l, int r) {
        return ((long) l << 32) | (r & 0xFFFFFFFFL);
    }
}
