package dev.tiller.engine.chat;

/**
 * A chat template could not be rendered: it does not parse, it failed while rendering, or it
 * called {@code raise_exception(...)} itself (for example to reject a role it does not support).
 */
public class ChatTemplateException extends RuntimeException {

    public ChatTemplateException(String message) {
        super(message);
    }

    public ChatTemplateException(String message, Throwable cause) {
        super(message, cause);
    }
}
