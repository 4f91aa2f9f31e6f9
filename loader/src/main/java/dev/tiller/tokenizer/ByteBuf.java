package dev.tiller.tokenizer;

import java.util.Arrays;

/** A growable byte buffer that can drop a consumed prefix. */
final class ByteBuf {
    private byte[] data = new byte[64];
    private int size;

    void append(byte[] bytes, int from, int len) {
        if (size + len > data.length) data = Arrays.copyOf(data, Math.max(data.length * 2, size + len));
        System.arraycopy(bytes, from, data, size, len);
        size += len;
    }

    int size() {
        return size;
    }

    byte get(int i) {
        return data[i];
    }

    byte[] array() {
        return data;
    }

    /** Removes the first {@code n} bytes. */
    void discard(int n) {
        System.arraycopy(data, n, data, 0, size - n);
        size -= n;
    }
}
