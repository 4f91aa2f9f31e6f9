package dev.tiller.engine.sampling;

import java.util.List;

/**
 * Watches streamed text for stop strings. Each {@link #feed} returns the text that is safe to show
 * now: everything except a tail that could still grow into a stop string, which is held back until
 * the next piece decides it. When a stop string appears, the text before it is released, the stop
 * string itself is not, and the matcher stays stopped.
 */
public final class StopStringMatcher {

    /**
     * @param text    what may be emitted now (possibly empty)
     * @param stopHit the stop string that ended generation, or null while generation goes on
     */
    public record Result(String text, String stopHit) {
        public boolean stopped() {
            return stopHit != null;
        }
    }

    private final List<String> stops;
    private final StringBuilder held = new StringBuilder();
    private String stopHit;

    public StopStringMatcher(List<String> stopStrings) {
        for (String s : stopStrings) {
            if (s == null || s.isEmpty()) {
                throw new IllegalArgumentException("stop strings must be non-empty");
            }
        }
        this.stops = List.copyOf(stopStrings);
    }

    public Result feed(String piece) {
        if (stopHit != null) {
            return new Result("", stopHit); // already stopped: nothing more is shown
        }
        held.append(piece);
        int earliest = -1;
        String first = null;
        for (String stop : stops) {
            int at = held.indexOf(stop);
            if (at >= 0 && (earliest < 0 || at < earliest)) {
                earliest = at;
                first = stop;
            }
        }
        if (first != null) {
            stopHit = first;
            String before = held.substring(0, earliest);
            held.setLength(0);
            return new Result(before, first);
        }
        int keep = longestTailThatStartsAStop();
        String safe = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return new Result(safe, null);
    }

    /** At the end of generation (no stop string came): the text still held back. */
    public String flush() {
        String rest = held.toString();
        held.setLength(0);
        return rest;
    }

    public boolean stopped() {
        return stopHit != null;
    }

    /** Forgets held text and any stop, ready for a new generation. */
    public void reset() {
        held.setLength(0);
        stopHit = null;
    }

    /** Length of the longest suffix of the held text that is a proper prefix of some stop string. */
    private int longestTailThatStartsAStop() {
        int best = 0;
        for (String stop : stops) {
            int max = Math.min(stop.length() - 1, held.length());
            for (int len = max; len > best; len--) {
                if (regionMatches(held, held.length() - len, stop, len)) {
                    best = len;
                    break;
                }
            }
        }
        return best;
    }

    private static boolean regionMatches(CharSequence text, int from, String prefixOf, int len) {
        for (int i = 0; i < len; i++) {
            if (text.charAt(from + i) != prefixOf.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
