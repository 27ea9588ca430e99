package fourfold.engine.tensor;

import java.util.Arrays;

/** Shape helpers: element counts and readable shape strings for error messages. */
public final class Shape {
    private Shape() {}

    public static long numel(int... dims) {
        long n = 1;
        for (int d : dims) n *= d;
        return n;
    }

    public static String str(int... dims) {
        return Arrays.toString(dims).replace('[', '(').replace(']', ')');
    }

    /** Refuses non-positive dimensions with a message naming the operation. */
    public static void requirePositive(String op, int... dims) {
        for (int d : dims) {
            if (d <= 0) throw new IllegalArgumentException(op + ": sizes must be positive, got " + str(dims));
        }
    }
}
