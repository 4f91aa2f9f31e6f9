package dev.tiller.steering;

import java.util.Arrays;

/**
 * Which token positions a steering vector acts on. "The prompt" of a sequence is what its first forward pass (the one
 * that starts at position 0) evaluates; {@link PromptTracker} records its length per sequence.
 *
 * @param start   WINDOW: first absolute position; GENERATED_WINDOW: first offset from the prompt's end (may be
 *                negative to reach into the prompt's last tokens)
 * @param end     exclusive end, same reference as {@code start}
 * @param indices EXPLICIT: the absolute positions, sorted
 */
public record Positions(Kind kind, int start, int end, int[] indices) {

    public enum Kind { ALL, PROMPT, GENERATED, WINDOW, GENERATED_WINDOW, EXPLICIT }

    public Positions {
        if (kind == null) throw new IllegalArgumentException("positions: kind is null");
        if ((kind == Kind.WINDOW || kind == Kind.GENERATED_WINDOW) && end <= start) {
            throw new IllegalArgumentException("positions: window [" + start + ", " + end + ") is empty");
        }
        if (kind == Kind.WINDOW && start < 0) throw new IllegalArgumentException("positions: window start " + start + " is negative");
        indices = indices == null ? new int[0] : indices.clone();
        Arrays.sort(indices);
        if (kind == Kind.EXPLICIT && (indices.length == 0 || indices[0] < 0)) {
            throw new IllegalArgumentException("positions: explicit positions must be a non-empty list of non-negative indices");
        }
    }

    public static Positions all() { return new Positions(Kind.ALL, 0, 0, null); }

    public static Positions prompt() { return new Positions(Kind.PROMPT, 0, 0, null); }

    public static Positions generated() { return new Positions(Kind.GENERATED, 0, 0, null); }

    /** Absolute positions {@code start <= p < end}. */
    public static Positions window(int start, int end) { return new Positions(Kind.WINDOW, start, end, null); }

    /** Positions {@code start <= p - promptLength < end}: {@code (-1, 3)} = the last prompt token and the first three generated. */
    public static Positions generatedWindow(int start, int end) { return new Positions(Kind.GENERATED_WINDOW, start, end, null); }

    public static Positions explicit(int... positions) { return new Positions(Kind.EXPLICIT, 0, 0, positions); }

    /**
     * Parses the CLI form: {@code all}, {@code prompt}, {@code generated}, {@code A:B} (absolute window),
     * {@code gen:A:B} (window relative to the prompt's end), {@code 3,5,8} (explicit).
     */
    public static Positions parse(String s) {
        String t = s.trim();
        try {
            switch (t) {
                case "all": return all();
                case "prompt": return prompt();
                case "generated": return generated();
                default:
            }
            if (t.startsWith("gen:")) {
                String[] p = t.substring(4).split(":");
                if (p.length == 2) return generatedWindow(Integer.parseInt(p[0]), Integer.parseInt(p[1]));
            } else if (t.contains(":")) {
                String[] p = t.split(":");
                if (p.length == 2) return window(Integer.parseInt(p[0]), Integer.parseInt(p[1]));
            } else {
                return explicit(Arrays.stream(t.split(",")).mapToInt(x -> Integer.parseInt(x.trim())).toArray());
            }
        } catch (NumberFormatException e) {
            // falls through to the error below
        }
        throw new IllegalArgumentException("positions '" + s + "': expected all, prompt, generated, A:B, gen:A:B or a list like 0,3,5");
    }

    /** Whether the token at {@code position} is steered, for a sequence whose prompt has {@code promptLength} tokens. */
    public boolean includes(int position, int promptLength) {
        return switch (kind) {
            case ALL -> true;
            case PROMPT -> position < promptLength;
            case GENERATED -> position >= promptLength;
            case WINDOW -> position >= start && position < end;
            case GENERATED_WINDOW -> position - promptLength >= start && position - promptLength < end;
            case EXPLICIT -> Arrays.binarySearch(indices, position) >= 0;
        };
    }

    @Override
    public String toString() {
        return switch (kind) {
            case ALL -> "all";
            case PROMPT -> "prompt";
            case GENERATED -> "generated";
            case WINDOW -> start + ":" + end;
            case GENERATED_WINDOW -> "gen:" + start + ":" + end;
            case EXPLICIT -> String.join(",", Arrays.stream(indices).mapToObj(Integer::toString).toList());
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Positions p && p.kind == kind && p.start == start && p.end == end && Arrays.equals(p.indices, indices);
    }

    @Override
    public int hashCode() {
        return kind.hashCode() * 31 + start * 7 + end + Arrays.hashCode(indices);
    }
}
