package dev.tiller.engine.model;

/**
 * A request (a new session's context, KV cache growth, a batch's activations) would take more memory than the
 * model's {@link MemoryBudget} allows. Thrown before anything is allocated; the session stays usable.
 */
public class MemoryBudgetExceededException extends RuntimeException {
    private final long requested;
    private final long available;

    public MemoryBudgetExceededException(String message, long requested, long available) {
        super(message);
        this.requested = requested;
        this.available = available;
    }

    /** Bytes the request needed. */
    public long requested() {
        return requested;
    }

    /** Bytes that were left in the budget. */
    public long available() {
        return available;
    }
}
