package dev.tiller.loader;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Size limits for the text files of a model folder (JSON configs, tokenizer files, merges, chat templates), checked
 * before a file is read into memory. Tensor files are memory-mapped and not limited here.
 */
public final class FileLimits {
    /** tokenizer.json, vocab.json, merges.txt: the largest real ones are a few tens of MB. */
    public static final long MAX_TOKENIZER_FILE_BYTES = 256L << 20;
    /** config.json, tokenizer_config.json, generation_config.json, the shard index, chat templates. */
    public static final long MAX_CONFIG_FILE_BYTES = 64L << 20;

    private FileLimits() {
    }

    /** Throws a {@link ModelFormatException} naming the file when it is larger than {@code max} bytes. */
    public static void checkSize(Path file, long max) {
        long size;
        try {
            size = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(file + ": no such file");
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (size > max) {
            throw new ModelFormatException(file + ": file of " + size + " bytes is over the limit of " + max + " bytes for this kind of file");
        }
    }
}
