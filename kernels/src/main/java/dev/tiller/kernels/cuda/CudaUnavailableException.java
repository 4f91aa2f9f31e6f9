package dev.tiller.kernels.cuda;

/**
 * CUDA cannot be used on this machine: no driver library, no cuBLAS, no device, or a driver too old for the kernels.
 * An {@link IllegalStateException} so that the CLI prints its message as a one-line error.
 */
public final class CudaUnavailableException extends IllegalStateException {
    public CudaUnavailableException(String message) {
        super(message);
    }

    public CudaUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
