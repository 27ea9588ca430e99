package fourfold.devices.comm;

import fourfold.devices.Bytes;

import java.util.Locale;
import java.util.function.UnaryOperator;

/**
 * Which {@link CollectiveAlgorithm} moves the bytes of an all-reduce, reduce-scatter or
 * all-gather, by message size (the full buffer: all-reduce's buffer, reduce-scatter's input,
 * all-gather's output), as NCCL's tuner picks a protocol:
 * <ul>
 * <li>all-reduce: one-shot up to {@code -Dfourfold.comm.oneShotBytes}, else two-shot up to
 *     {@code -Dfourfold.comm.twoShotBytes}, else the ring;
 * <li>reduce-scatter and all-gather: direct up to {@code twoShotBytes} (each is one half of a
 *     two-shot all-reduce of that size), else the ring.
 * </ul>
 * {@code -Dfourfold.comm.algorithm=ring|oneshot|twoshot} forces one for every size (oneshot and
 * twoshot make reduce-scatter and all-gather direct); {@code auto} (the default) chooses by size.
 *
 * @param forced null for auto
 */
record AlgorithmChoice(CollectiveAlgorithm forced, long oneShotBytes, long twoShotBytes) {
    /**
     * Off: one-shot meets as often as two-shot (more, beyond 4 members, where the ring-sized
     * staging takes several rounds) and reduces the whole buffer on every member, so on these
     * hosts it never beat two-shot (docs/design-notes.md). It stays for forcing and for tuning.
     */
    static final long DEFAULT_ONE_SHOT_BYTES = 0;
    /** Covers the presets' tensor-parallel activations; larger messages keep the ring until a quiet host has measured where two-shot stops paying. */
    static final long DEFAULT_TWO_SHOT_BYTES = 4L << 20;

    static final String ALGORITHM = "fourfold.comm.algorithm";
    static final String ONE_SHOT_BYTES = "fourfold.comm.oneShotBytes";
    static final String TWO_SHOT_BYTES = "fourfold.comm.twoShotBytes";

    AlgorithmChoice {
        if (forced != null && forced != CollectiveAlgorithm.RING && forced != CollectiveAlgorithm.ONE_SHOT && forced != CollectiveAlgorithm.TWO_SHOT) {
            throw new IllegalArgumentException(forced.label() + " is not an all-reduce algorithm");
        }
        if (oneShotBytes < 0 || twoShotBytes < 0) throw new IllegalArgumentException("thresholds must be >= 0, got " + oneShotBytes + " and " + twoShotBytes);
    }

    /** Auto with the default thresholds. */
    static AlgorithmChoice auto() {
        return new AlgorithmChoice(null, DEFAULT_ONE_SHOT_BYTES, DEFAULT_TWO_SHOT_BYTES);
    }

    /** Every size moved by {@code a} (RING, ONE_SHOT or TWO_SHOT). */
    static AlgorithmChoice forced(CollectiveAlgorithm a) {
        return new AlgorithmChoice(a, DEFAULT_ONE_SHOT_BYTES, DEFAULT_TWO_SHOT_BYTES);
    }

    static AlgorithmChoice fromSystemProperties() {
        return of(System::getProperty);
    }

    /** The choice the properties ask for (name to value, null when unset); a bad value is a one-line error naming the property. */
    static AlgorithmChoice of(UnaryOperator<String> properties) {
        String a = properties.apply(ALGORITHM);
        CollectiveAlgorithm forced = switch (a == null ? "auto" : a.trim().toLowerCase(Locale.ROOT)) {
            case "auto" -> null;
            case "ring" -> CollectiveAlgorithm.RING;
            case "oneshot" -> CollectiveAlgorithm.ONE_SHOT;
            case "twoshot" -> CollectiveAlgorithm.TWO_SHOT;
            default -> throw badOption(ALGORITHM, "auto, ring, oneshot or twoshot", a);
        };
        return new AlgorithmChoice(forced, bytes(properties, ONE_SHOT_BYTES, DEFAULT_ONE_SHOT_BYTES),
                bytes(properties, TWO_SHOT_BYTES, DEFAULT_TWO_SHOT_BYTES));
    }

    CollectiveAlgorithm allReduce(long bytes) {
        if (forced != null) return forced;
        if (upTo(bytes, oneShotBytes)) return CollectiveAlgorithm.ONE_SHOT;
        return upTo(bytes, twoShotBytes) ? CollectiveAlgorithm.TWO_SHOT : CollectiveAlgorithm.RING;
    }

    /** For reduce-scatter and all-gather. */
    CollectiveAlgorithm scatterOrGather(long bytes) {
        if (forced != null) return forced == CollectiveAlgorithm.RING ? forced : CollectiveAlgorithm.DIRECT;
        return upTo(bytes, twoShotBytes) ? CollectiveAlgorithm.DIRECT : CollectiveAlgorithm.RING;
    }

    /** A threshold of 0 turns its algorithm off, empty messages included. */
    private static boolean upTo(long bytes, long threshold) {
        return threshold > 0 && bytes <= threshold;
    }

    /** A threshold: 0 (never) or a size such as 65536 or 64k. */
    private static long bytes(UnaryOperator<String> properties, String property, long fallback) {
        String v = properties.apply(property);
        if (v == null) return fallback;
        if (v.trim().equals("0")) return 0;
        try {
            return Bytes.parse(v);
        } catch (IllegalArgumentException e) {
            throw badOption(property, "a size in bytes such as 65536 or 64k (0 turns the algorithm off)", v);
        }
    }

    private static IllegalArgumentException badOption(String property, String expected, String value) {
        return new IllegalArgumentException("-D" + property + " must be " + expected + ", got '" + value + "'; fix it in FOURFOLD_JAVA_OPTS or the JVM options");
    }
}
