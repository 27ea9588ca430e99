package fourfold.engine.pp;

import fourfold.engine.UserError;

import java.util.List;

/** The schedules users can name with --schedule, and the checks every schedule shares. */
public final class Schedules {
    private Schedules() {}

    private static final List<Schedule> KNOWN = List.of(new GPipe(), new OneFOneB(), new Interleaved(), new ZeroBubbleH1());

    /** The schedule called {@code name} (gpipe, 1f1b, interleaved, zb-h1). */
    public static Schedule named(String name) {
        for (Schedule s : KNOWN) if (s.name().equals(name)) return s;
        throw new UserError("unknown --schedule '" + name + "'; known schedules: " + String.join(", ", names()));
    }

    public static List<String> names() {
        return KNOWN.stream().map(Schedule::name).toList();
    }

    /** Refuses sizes no schedule can run; {@code virtualOk}: whether this schedule takes --virtual-stages > 1. */
    static void checkSizes(String schedule, int p, int m, int v, boolean virtualOk) {
        if (p < 1) throw new UserError("--pp must be >= 1, got " + p);
        if (m < 1) throw new UserError("--micro-batches must be >= 1, got " + m);
        if (v < 1) throw new UserError("--virtual-stages must be >= 1, got " + v);
        if (v > 1 && !virtualOk)
            throw new UserError("--virtual-stages " + v + " needs --schedule interleaved (schedule " + schedule + " holds one stage per rank); use --virtual-stages 1");
    }
}
