package dev.tiller.loader;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A whole file mapped read-only into memory through {@link java.lang.foreign}. Works for files over 2 GiB;
 * the bytes stay in the page cache and are never copied onto the Java heap. Closing unmaps it.
 */
public final class MappedFile implements AutoCloseable {
    private final Path path;
    private final Arena arena;
    private final MemorySegment segment;

    private MappedFile(Path path, Arena arena, MemorySegment segment) {
        this.path = path;
        this.arena = arena;
        this.segment = segment;
    }

    public static MappedFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment seg = size == 0 ? MemorySegment.NULL.reinterpret(0) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return new MappedFile(path, arena, seg);
        } catch (NoSuchFileException e) {
            arena.close();
            throw new ModelFormatException(path + ": no such file");
        } catch (IOException e) {
            arena.close();
            throw new ModelFormatException(path + ": cannot map file: " + e.getMessage(), e);
        }
    }

    /**
     * An in-memory copy of {@code bytes} that behaves like a mapped file named {@code name} (for parsing data that did
     * not come from disk, and for fuzzing the parsers without touching the file system). Closing frees it.
     */
    public static MappedFile ofBytes(byte[] bytes, Path name) {
        Arena arena = Arena.ofShared();
        MemorySegment seg = bytes.length == 0 ? MemorySegment.NULL.reinterpret(0) : arena.allocate(bytes.length, 64);
        if (bytes.length > 0) MemorySegment.copy(bytes, 0, seg, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, bytes.length);
        return new MappedFile(name, arena, seg);
    }

    public Path path() {
        return path;
    }

    public MemorySegment segment() {
        return segment;
    }

    public long size() {
        return segment.byteSize();
    }

    @Override
    public void close() {
        arena.close();
    }
}
