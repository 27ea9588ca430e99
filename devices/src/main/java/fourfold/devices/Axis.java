package fourfold.devices;

import java.util.Locale;

/**
 * The four parallel axes of the device mesh, in mesh order: DP outermost, TP innermost (fastest
 * varying), as Llama 3 lays them out so that the chattiest axis (TP) stays inside one node.
 */
public enum Axis {
    DP, PP, CP, TP;

    /** Lower-case name used in group names and messages: "dp", "pp", "cp", "tp". */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
