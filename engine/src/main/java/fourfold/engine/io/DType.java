package fourfold.engine.io;

import java.util.Arrays;

/** The element types of the safetensors format, by their header names, with their sizes. */
public enum DType {
    BOOL(1), U8(1), I8(1), F8_E5M2(1), F8_E4M3(1),
    I16(2), U16(2), F16(2), BF16(2),
    I32(4), U32(4), F32(4),
    I64(8), U64(8), F64(8);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /** The dtype named {@code s} in a header, or null if there is none. */
    static DType parse(String s) {
        for (DType d : values()) if (d.name().equals(s)) return d;
        return null;
    }

    static String known() {
        return Arrays.toString(values());
    }
}
