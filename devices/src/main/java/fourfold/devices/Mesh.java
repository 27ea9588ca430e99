package fourfold.devices;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.StringJoiner;

/**
 * Ranks arranged on the named axes [dp, pp, cp, tp], tp fastest-varying:
 * {@code rank = ((dp * PP + pp) * CP + cp) * TP + tp}. A 1x1x1x1 mesh (one device) is valid.
 */
public final class Mesh {
    /** Where one rank sits on the four axes. */
    public record Coords(int dp, int pp, int cp, int tp) {
        public int get(Axis axis) {
            return switch (axis) {
                case DP -> dp;
                case PP -> pp;
                case CP -> cp;
                case TP -> tp;
            };
        }

        @Override
        public String toString() {
            return "dp=" + dp + ", pp=" + pp + ", cp=" + cp + ", tp=" + tp;
        }
    }

    private final int dp, pp, cp, tp;
    private final int size;

    public Mesh(int dp, int pp, int cp, int tp) {
        if (dp < 1 || pp < 1 || cp < 1 || tp < 1) {
            throw new IllegalArgumentException("mesh: every axis size must be >= 1, got dp=" + dp + " pp=" + pp + " cp=" + cp + " tp=" + tp);
        }
        long n = (long) dp * pp * cp * tp;
        if (n > 1 << 16) throw new IllegalArgumentException("mesh: " + n + " ranks (dp=" + dp + " pp=" + pp + " cp=" + cp + " tp=" + tp + ") is more than 65536");
        this.dp = dp;
        this.pp = pp;
        this.cp = cp;
        this.tp = tp;
        this.size = (int) n;
    }

    public int size() {
        return size;
    }

    public int size(Axis axis) {
        return switch (axis) {
            case DP -> dp;
            case PP -> pp;
            case CP -> cp;
            case TP -> tp;
        };
    }

    public int dp() { return dp; }
    public int pp() { return pp; }
    public int cp() { return cp; }
    public int tp() { return tp; }

    public Coords coords(int rank) {
        if (rank < 0 || rank >= size) throw new IllegalArgumentException("mesh " + this + ": rank " + rank + " is outside [0, " + size + ")");
        int t = rank % tp;
        int rest = rank / tp;
        int c = rest % cp;
        rest /= cp;
        int p = rest % pp;
        int d = rest / pp;
        return new Coords(d, p, c, t);
    }

    public int rank(int dp, int pp, int cp, int tp) {
        if (dp < 0 || dp >= this.dp || pp < 0 || pp >= this.pp || cp < 0 || cp >= this.cp || tp < 0 || tp >= this.tp) {
            throw new IllegalArgumentException("mesh " + this + ": coordinates (dp=" + dp + ", pp=" + pp + ", cp=" + cp + ", tp=" + tp + ") are outside the mesh");
        }
        return ((dp * this.pp + pp) * this.cp + cp) * this.tp + tp;
    }

    public int rank(Coords c) {
        return rank(c.dp(), c.pp(), c.cp(), c.tp());
    }

    /**
     * The global ranks of {@code rank}'s group along {@code axes}: every rank whose coordinates
     * differ from {@code rank}'s only on those axes, in mesh order (ascending global rank). The
     * group-local rank of a member is its index in this array.
     */
    public int[] members(int rank, Axis... axes) {
        EnumSet<Axis> set = axisSet(axes);
        Coords me = coords(rank);
        int n = 1;
        for (Axis a : set) n *= size(a);
        int[] out = new int[n];
        int k = 0;
        for (int r = 0; r < size; r++) {
            Coords c = coords(r);
            boolean same = true;
            for (Axis a : Axis.values()) {
                if (!set.contains(a) && c.get(a) != me.get(a)) {
                    same = false;
                    break;
                }
            }
            if (same) out[k++] = r;
        }
        return out;
    }

    /** The group's name: its axes in mesh order joined by "×", e.g. "dp", "dp×cp". */
    public static String groupName(Axis... axes) {
        StringJoiner j = new StringJoiner("×");
        for (Axis a : axisSet(axes)) j.add(a.label());
        return j.toString();
    }

    static EnumSet<Axis> axisSet(Axis... axes) {
        if (axes == null || axes.length == 0) throw new IllegalArgumentException("a process group needs at least one axis (dp, pp, cp or tp)");
        EnumSet<Axis> set = EnumSet.noneOf(Axis.class);
        for (Axis a : axes) {
            if (a == null) throw new IllegalArgumentException("null axis in " + Arrays.toString(axes));
            set.add(a);
        }
        return set;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Mesh m && m.dp == dp && m.pp == pp && m.cp == cp && m.tp == tp;
    }

    @Override
    public int hashCode() {
        return ((dp * 31 + pp) * 31 + cp) * 31 + tp;
    }

    @Override
    public String toString() {
        return "dp" + dp + "·pp" + pp + "·cp" + cp + "·tp" + tp;
    }
}
