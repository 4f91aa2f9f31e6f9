package dev.tiller.loader.gguf;

import dev.tiller.loader.Tensor;
import dev.tiller.testsupport.Slow;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** A GGUF file larger than 2 GiB maps whole and its tensors past the 2 GiB mark read correctly (sparse file: fast). */
@Slow
class LargeFileTest {
    @TempDir
    Path tmp;

    @Test
    void tensorBeyondTwoGibibytesReads() throws Exception {
        long offset = 3L << 30; // relative to the data section, aligned to 32
        byte[] name = "far.weight".getBytes(StandardCharsets.UTF_8);
        ByteBuffer h = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(GGUFFile.MAGIC).putInt(3).putLong(1).putLong(0);
        h.putLong(name.length).put(name).putInt(1).putLong(8).putInt(0 /* F32 */).putLong(offset);
        long dataStart = (h.position() + 31) / 32 * 32;
        Path p = tmp.resolve("big.gguf");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.write(h.array(), 0, h.position());
            f.setLength(dataStart + offset + 32);
            f.seek(dataStart + offset);
            ByteBuffer d = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < 8; i++) d.putFloat(i + 0.5f);
            f.write(d.array());
        }
        try (GGUFFile g = GGUFFile.open(p)) {
            Tensor t = g.tensor("far.weight");
            for (int i = 0; i < 8; i++) {
                assertEquals(i + 0.5f, t.data().get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4L * i));
            }
        }
    }
}
