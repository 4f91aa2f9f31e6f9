package dev.tiller.models.arch;

/** One axis of a tensor's shape, named by the size it has (see {@link Sizes}). */
public enum Dim {
    DIM, Q_DIM, KV_DIM, HEAD_DIM, FFN, VOCAB,
    /** One factor per rotated pair: rope_dims / 2. */
    ROPE_PAIRS;

    public int of(Sizes s) {
        return switch (this) {
            case DIM -> s.dim();
            case Q_DIM -> s.qDim();
            case KV_DIM -> s.kvDim();
            case HEAD_DIM -> s.headDim();
            case FFN -> s.ffnDim();
            case VOCAB -> s.vocabSize();
            case ROPE_PAIRS -> s.ropeDims() / 2;
        };
    }
}
