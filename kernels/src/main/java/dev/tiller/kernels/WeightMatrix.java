package dev.tiller.kernels;

import dev.tiller.kernels.quant.QuantFormat;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;

/**
 * A 2-D weight tensor seen as {@code rows} rows of {@code cols} elements (ggml {@code ne = [cols, rows]}), read in
 * place from the mapped file in whatever format it is stored.
 */
public final class WeightMatrix {
    private final Tensor tensor;
    private final QuantFormat format;
    private final int rows;
    private final int cols;
    private final long rowBytes;
    /** False until the values were checked, for a format whose kernels misread some values (see {@link #data}). */
    private volatile boolean valuesChecked;

    public WeightMatrix(Tensor tensor) {
        if (tensor.dims() > 2) {
            throw new ModelFormatException(tensor.source() + ": tensor '" + tensor.name() + "' has shape " + tensor.shapeString() + ", expected a matrix");
        }
        if (tensor.ne(0) > Integer.MAX_VALUE || tensor.ne(1) > Integer.MAX_VALUE) {
            // a zero-width tensor with 2^40 rows takes no bytes, so it fits in any file (a fuzzing finding)
            throw new ModelFormatException(tensor.source() + ": tensor '" + tensor.name() + "' has shape " + tensor.shapeString()
                    + ", too large for a weight matrix (at most 2^31-1 rows and columns)");
        }
        this.tensor = tensor;
        this.format = QuantFormat.of(tensor.type(), tensor.name());
        this.cols = Math.toIntExact(tensor.ne(0));
        this.rows = Math.toIntExact(tensor.ne(1));
        this.rowBytes = tensor.type().byteSize(cols);
        this.valuesChecked = !format.checksValues();
    }

    /**
     * The mapped data, checked once before its first use when the format's fast kernels misread some values (an F16
     * infinity or NaN would read as a finite number): such a tensor is refused with its name and the element, rather
     * than computed with silently. The check reads the tensor once, on its first use, not at load.
     */
    private java.lang.foreign.MemorySegment data() {
        if (!valuesChecked) checkValues();
        return tensor.data();
    }

    private synchronized void checkValues() {
        if (valuesChecked) return;
        long count = (long) rows * cols, at = format.firstUnreadable(tensor.data(), count);
        if (at >= 0) {
            throw new ModelFormatException(tensor.source() + ": tensor '" + tensor.name() + "' holds an infinity or NaN at row " + at / cols
                    + ", column " + at % cols + " (" + tensor.type() + "); a weight must be finite");
        }
        valuesChecked = true;
    }

    /** Checks the shape against what the architecture expects, naming the tensor when it differs. */
    public WeightMatrix expect(int rows, int cols) {
        if (this.rows != rows || this.cols != cols) {
            throw new ModelFormatException(tensor.source() + ": tensor '" + tensor.name() + "' has shape " + tensor.shapeString()
                    + ", expected [" + cols + ", " + rows + "]");
        }
        return this;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    public Tensor tensor() {
        return tensor;
    }

    public QuantFormat format() {
        return format;
    }

    public long rowBytes() {
        return rowBytes;
    }

    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        format.dequantize(data(), row * rowBytes, dst, dstOffset, cols);
    }

    /**
     * Dequantizes {@code count} elements of a row starting at column {@code fromCol}; both must be multiples of the
     * format's block size (or reach the row's end).
     */
    public void dequantizeRow(int row, int fromCol, int count, float[] dst, int dstOffset) {
        format.dequantize(data(), row * rowBytes + tensor.type().byteSize(fromCol), dst, dstOffset, count);
    }

    public float dotRow(int row, float[] x, int xOffset) {
        return format.dot(data(), row * rowBytes, x, xOffset, cols);
    }

    /** {@link #dotRow} given x's block sums ({@link dev.tiller.kernels.quant.BlockSums}). */
    public float dotRow(int row, float[] x, int xOffset, float[] sums) {
        return format.dot(data(), row * rowBytes, x, xOffset, sums, cols);
    }

    /**
     * y[yOffset + r_i] = dot(W[r_i], x) for four rows at once, given x's block sums
     * ({@link dev.tiller.kernels.quant.BlockSums}; see {@link QuantFormat#dot4}).
     */
    public void dotRows4(int r0, int r1, int r2, int r3, float[] x, int xOffset, float[] sums, float[] y, int yOffset) {
        format.dot4(data(), r0 * rowBytes, r1 * rowBytes, r2 * rowBytes, r3 * rowBytes, x, xOffset, sums, cols,
                y, yOffset + r0, yOffset + r1, yOffset + r2, yOffset + r3);
    }
}
