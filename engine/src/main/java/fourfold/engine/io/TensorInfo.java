package fourfold.engine.io;

import fourfold.engine.tensor.Shape;

/**
 * One tensor's entry in a safetensors header: its dtype, shape and byte range
 * [begin, end) relative to the start of the data section (after the header).
 */
public record TensorInfo(String name, DType dtype, int[] shape, long begin, long end) {
    public TensorInfo {
        shape = shape.clone();
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    public long numel() {
        return Shape.numel(shape);
    }

    public long byteSize() {
        return end - begin;
    }

    @Override
    public String toString() {
        return name + " " + dtype + Shape.str(shape) + " [" + begin + ", " + end + ")";
    }
}
