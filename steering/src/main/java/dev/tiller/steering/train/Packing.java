package dev.tiller.steering.train;

/**
 * How independent sequences sit in the rows of one training pass: sequence s occupies rows seqStart[s] ..
 * seqStart[s] + seqLen[s] - 1 at positions 0 .. seqLen[s] - 1; {@code rowStart[r]} is the first row of row r's
 * sequence and {@code pos[r]} its position, so row r attends to rows rowStart[r] .. r.
 */
public record Packing(int rows, int[] pos, int[] rowStart, int[] seqStart, int[] seqLen) {

    static Packing of(int[] seqLen) {
        int n = 0;
        int[] start = new int[seqLen.length];
        for (int s = 0; s < seqLen.length; s++) {
            start[s] = n;
            n += seqLen[s];
        }
        int[] pos = new int[n], rowStart = new int[n];
        for (int s = 0; s < seqLen.length; s++) {
            for (int p = 0; p < seqLen[s]; p++) {
                pos[start[s] + p] = p;
                rowStart[start[s] + p] = start[s];
            }
        }
        return new Packing(n, pos, rowStart, start, seqLen.clone());
    }

    public int sequences() {
        return seqStart.length;
    }

    /** The longest sequence's length. */
    public int maxLength() {
        int m = 0;
        for (int l : seqLen) m = Math.max(m, l);
        return m;
    }
}
