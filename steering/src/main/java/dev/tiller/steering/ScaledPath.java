package dev.tiller.steering;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A {@code FILE[:SCALE]} argument, as llama.cpp's {@code --control-vector-scaled} and Tiller's {@code --steer} and batch
 * {@code steer} fields take them. The part after the last colon is a scale only when it parses as a number, so paths
 * that contain colons still work when no scale is given.
 */
public record ScaledPath(Path path, float scale, boolean scaleGiven) {

    /** @param what the flag or field, for error messages */
    public static ScaledPath parse(String spec, String what) {
        int colon = spec.lastIndexOf(':');
        if (colon > 0) {
            String tail = spec.substring(colon + 1);
            try {
                float s = Float.parseFloat(tail);
                if (!Float.isFinite(s)) throw new IllegalArgumentException(what + " '" + spec + "': scale " + tail + " is not finite");
                return new ScaledPath(Path.of(spec.substring(0, colon)), s, true);
            } catch (NumberFormatException e) {
                if (!Files.exists(Path.of(spec))) {
                    throw new IllegalArgumentException(what + " '" + spec + "': scale '" + tail + "' is not a number");
                }
            }
        }
        return new ScaledPath(Path.of(spec), 1f, false);
    }
}
