package dev.tiller.kernels;

/**
 * A per-thread float buffer that grows on demand and is then reused, so that kernels allocate nothing per call
 * once warm. Callers fetch it once per task, not per element; its contents are whatever its last user left.
 */
public final class ThreadScratch {
    private final ThreadLocal<float[]> buffer = ThreadLocal.withInitial(() -> new float[0]);

    /** This thread's buffer, at least {@code size} floats long. */
    public float[] get(int size) {
        float[] s = buffer.get();
        if (s.length < size) buffer.set(s = new float[size]);
        return s;
    }
}
