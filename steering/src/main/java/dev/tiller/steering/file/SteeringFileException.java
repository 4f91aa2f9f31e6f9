package dev.tiller.steering.file;

/** A steering file that cannot be read, or that does not fit the model it is applied to. */
public class SteeringFileException extends IllegalArgumentException {
    public SteeringFileException(String message) {
        super(message);
    }

    public SteeringFileException(String message, Throwable cause) {
        super(message, cause);
    }
}
