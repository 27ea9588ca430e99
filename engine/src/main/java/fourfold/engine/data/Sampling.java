package fourfold.engine.data;

import fourfold.engine.UserError;

import java.util.Arrays;
import java.util.Locale;

/** How training windows are picked (the CLI's {@code --sampling}). */
public enum Sampling {
    /** Each row starts at a uniformly random byte of the train split, drawn from (seed, step). */
    RANDOM,
    /** Step s uses windows s*B .. s*B+B-1 (wrapping) of the train split, in order. */
    SEQUENTIAL;

    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Sampling parse(String s) {
        for (Sampling v : values()) if (v.cliName().equals(s)) return v;
        throw new UserError("unknown --sampling '" + s + "'; expected one of "
                + Arrays.stream(values()).map(Sampling::cliName).toList());
    }
}
