package dev.tiller.engine.hooks;

import java.util.List;

/**
 * A hook that treats each row by the sequence it belongs to (a batch of requests, each steered its own way) and whose
 * effect on a sequence's rows is a list of vector adds. A GPU pass reads the adds and applies them on the device, all
 * rows at once from a per-row table; {@link #apply} is the same effect on the host.
 */
public interface PerSequenceAdds extends ForwardHook {
    /** The adds for the rows of {@code sequence}, in order (empty: none); null when its effect is not plain adds. */
    List<RowVectorAdd> addsFor(int sequence);
}
