package dev.tiller.kernels.cuda;

/**
 * A weight matrix on the device: {@code rows} x {@code cols} row-major in {@code format} at {@code ptr};
 * {@code scales} the f16 block scales of a quantized one (0 otherwise), {@code name} the tensor's (for errors).
 */
public record DeviceMatrix(String name, long ptr, long scales, int rows, int cols, DeviceFormat format) {
    /** Rows r0 .. r0+count-1 as a matrix of their own (the q, k, v of a stacked q|k|v, a tile of rows). */
    public DeviceMatrix view(String viewName, int r0, int count) {
        return new DeviceMatrix(viewName, ptr + r0 * format.rowBytes(cols), scales == 0 ? 0 : scales + r0 * format.scaleBytes(cols), count, cols,
                format);
    }
}
