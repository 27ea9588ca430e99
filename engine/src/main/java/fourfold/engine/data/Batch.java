package fourfold.engine.data;

import java.util.Arrays;

/**
 * A batch of B sequences of T tokens, row-major: {@code inputs[b*T + t]} is token t of row b and
 * {@code targets[b*T + t]} the token that follows it (the next byte of the same window).
 *
 * <p>{@link #rows} cuts rows [r0, r0+n): a data-parallel rank's slice or one micro-batch.
 */
public record Batch(int[] inputs, int[] targets, int B, int T) {
    public Batch {
        if (B <= 0 || T <= 0) throw new IllegalArgumentException("Batch: B and T must be positive, got B=" + B + ", T=" + T);
        if (inputs.length != (long) B * T || targets.length != (long) B * T) {
            throw new IllegalArgumentException("Batch: inputs has " + inputs.length + " and targets " + targets.length
                    + " tokens, expected B*T = " + B + "*" + T + " = " + (long) B * T);
        }
    }

    /** Number of target tokens (the loss is a sum over them divided by this count). */
    public int tokens() {
        return B * T;
    }

    /** Rows [r0, r0+n) as a new batch (copies; the arrays are small). */
    public Batch rows(int r0, int n) {
        if (r0 < 0 || n <= 0 || r0 + n > B) {
            throw new IllegalArgumentException("Batch.rows: rows [" + r0 + ", " + (r0 + n) + ") outside a batch of B=" + B + " rows");
        }
        return new Batch(Arrays.copyOfRange(inputs, r0 * T, (r0 + n) * T),
                Arrays.copyOfRange(targets, r0 * T, (r0 + n) * T), n, T);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Batch b && B == b.B && T == b.T && Arrays.equals(inputs, b.inputs) && Arrays.equals(targets, b.targets);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * Arrays.hashCode(inputs) + Arrays.hashCode(targets)) + B * 65_537 + T;
    }

    @Override
    public String toString() {
        return "Batch(B=" + B + ", T=" + T + ")";
    }
}
