package dev.tiller.kernels.cuda;

/** A CUDA driver or cuBLAS call failed; the message names the call and the error code's name. */
public final class CudaException extends RuntimeException {
    private final int code;

    public CudaException(String call, int code, String name) {
        super(call + " failed: " + name + " (" + code + ")");
        this.code = code;
    }

    public int code() {
        return code;
    }
}
