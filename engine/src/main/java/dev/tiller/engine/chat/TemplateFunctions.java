package dev.tiller.engine.chat;

import com.hubspot.jinjava.objects.date.StrftimeFormatter;
import java.time.ZonedDateTime;
import java.util.Locale;

/** The global functions HF's renderer gives every chat template. Jinjava calls them statically. */
public final class TemplateFunctions {

    private TemplateFunctions() {
    }

    /** {@code raise_exception(msg)}: templates call it to refuse a conversation they cannot format. */
    public static Object raiseException(String message) {
        throw new RaisedByTemplate(message);
    }

    /** {@code strftime_now(fmt)}: today's date, e.g. for Llama 3's "Today Date:" line. */
    public static String strftimeNow(String format) {
        return StrftimeFormatter.format(ZonedDateTime.now(), format, Locale.ENGLISH);
    }

    /** Marks an error the template raised on purpose, so it can be told apart from a broken template. */
    static final class RaisedByTemplate extends RuntimeException {
        RaisedByTemplate(String message) {
            super(message);
        }
    }
}
