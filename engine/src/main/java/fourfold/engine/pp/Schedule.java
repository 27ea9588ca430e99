package fourfold.engine.pp;

import java.util.List;

/**
 * A pipeline schedule as data: for p ranks, m micro-batches and v virtual stages (chunks) per
 * rank, every rank's list of actions in the order it runs them. Pure: no model, no devices.
 */
public interface Schedule {
    /** The name users type (--schedule): gpipe, 1f1b, interleaved, zb-h1. */
    String name();

    /** Every rank's actions, index = pp rank. Refuses (p, m, v) it cannot schedule with a UserError. */
    List<List<Action>> actions(int p, int m, int v);
}
