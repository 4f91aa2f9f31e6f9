package dev.tiller.loader;

/**
 * A model, tokenizer or vector file is malformed or unsupported. The message always names the file and the
 * field, tensor or offset at fault.
 */
public class ModelFormatException extends RuntimeException {
    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
