package fourfold.engine.train;

import fourfold.engine.UserError;

import java.util.Arrays;
import java.util.Locale;
import java.util.StringJoiner;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The shorthand of a layout's mesh, {@code dp2,pp2,cp2,tp2}: axes in any order, each at most
 * once, a missing axis has size 1. {@link #of} writes it back in mesh order, leaving out axes of
 * size 1 ("single" when all are), which is how metrics files, plots and compare name a run.
 */
public record LayoutSpec(int dp, int pp, int cp, int tp) {
    private static final String[] AXES = {"dp", "pp", "cp", "tp"};
    private static final Pattern ITEM = Pattern.compile("(dp|pp|cp|tp)\\s*(\\d{1,6})");

    /** Parses {@code text} for the option {@code flag} (named in the error). */
    public static LayoutSpec parse(String flag, String text) {
        String t = text.strip().toLowerCase(Locale.ROOT);
        if (t.equals("single")) return new LayoutSpec(1, 1, 1, 1);
        int[] sizes = {1, 1, 1, 1};
        boolean[] seen = new boolean[4];
        if (t.isEmpty()) throw new UserError(flag + " is empty; write the mesh as e.g. dp2,tp2 (axes dp, pp, cp, tp, missing axes 1)");
        for (String item : t.split(",", -1)) {
            Matcher m = ITEM.matcher(item.strip());
            if (!m.matches()) {
                throw new UserError(flag + " '" + text.strip() + "': cannot read '" + item.strip() + "'; write each axis as its name and size,"
                        + " e.g. dp2,pp2,cp2,tp2 (axes dp, pp, cp, tp, in any order, missing axes 1)");
            }
            int axis = Arrays.asList(AXES).indexOf(m.group(1));
            if (seen[axis]) throw new UserError(flag + " '" + text.strip() + "' names " + AXES[axis] + " twice; name each axis once");
            seen[axis] = true;
            sizes[axis] = Integer.parseInt(m.group(2));
            if (sizes[axis] < 1) throw new UserError(flag + " '" + text.strip() + "': " + AXES[axis] + " must be >= 1, got " + sizes[axis]);
        }
        return new LayoutSpec(sizes[0], sizes[1], sizes[2], sizes[3]);
    }

    public static LayoutSpec of(Layout layout) {
        return new LayoutSpec(layout.dp(), layout.pp(), layout.cp(), layout.tp());
    }

    public int devices() {
        return dp * pp * cp * tp;
    }

    /** This mesh with the other settings of a layout. */
    public Layout layout(int zero, int microBatches, boolean sequenceParallel) {
        return new Layout(dp, pp, cp, tp, zero, microBatches, sequenceParallel);
    }

    @Override
    public String toString() {
        int[] sizes = {dp, pp, cp, tp};
        StringJoiner j = new StringJoiner(",");
        for (int a = 0; a < 4; a++) if (sizes[a] > 1) j.add(AXES[a] + sizes[a]);
        return j.length() == 0 ? "single" : j.toString();
    }
}
