package dev.tiller.loader.gguf;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/** Little-endian primitive writes that count the bytes written (the writers need positions for padding). */
final class LittleEndianOutput extends FilterOutputStream {
    private long count;

    LittleEndianOutput(OutputStream out) {
        super(out);
    }

    long count() {
        return count;
    }

    @Override
    public void write(int b) throws IOException {
        out.write(b);
        count++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
        count += len;
    }

    void u8(int v) throws IOException {
        write(v & 0xFF);
    }

    void u16(int v) throws IOException {
        write(v & 0xFF);
        write((v >>> 8) & 0xFF);
    }

    void u32(int v) throws IOException {
        for (int i = 0; i < 4; i++) write((v >>> (8 * i)) & 0xFF);
    }

    void u64(long v) throws IOException {
        for (int i = 0; i < 8; i++) write((int) (v >>> (8 * i)) & 0xFF);
    }

    void string(String s) throws IOException {
        byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        u64(b.length);
        write(b, 0, b.length);
    }

    void zeros(long n) throws IOException {
        for (long i = 0; i < n; i++) write(0);
    }
}
