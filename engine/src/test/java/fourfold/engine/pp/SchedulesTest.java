package fourfold.engine.pp;

import fourfold.engine.UserError;
import fourfold.engine.pp.Action.Kind;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Every schedule over p in 1..8, m in 1..3p, v in 1..3: valid, progresses, and has the bubble and memory the papers give. */
class SchedulesTest {
    static final double EXACT = 1e-12;

    /** Calls {@code check} for every (p, m, v) the schedule accepts; returns how many it accepted. */
    static int forEachSize(Schedule schedule, SizeCheck check) {
        int accepted = 0;
        for (int p = 1; p <= 8; p++)
            for (int v = 1; v <= 3; v++)
                for (int m = 1; m <= 3 * p; m++) {
                    List<List<Action>> lists;
                    try {
                        lists = schedule.actions(p, m, v);
                    } catch (UserError refused) {
                        continue;
                    }
                    accepted++;
                    check.run(p, m, v, lists);
                }
        return accepted;
    }

    interface SizeCheck {
        void run(int p, int m, int v, List<List<Action>> lists);
    }

    static String at(String schedule, int p, int m, int v) {
        return schedule + " p=" + p + " m=" + m + " v=" + v;
    }

    @Test
    void everyScheduleIsValidAndProgressesForEverySizeItAccepts() {
        for (String name : Schedules.names()) {
            Schedule s = Schedules.named(name);
            int accepted = forEachSize(s, (p, m, v, lists) -> {
                ScheduleValidator.check(lists, p, m, v);
                DryRun.Result r = DryRun.run(lists, p, v, DryRun.Costs.EQUAL);
                assertEquals(p, r.timelines().size(), at(name, p, m, v));
            });
            // gpipe, 1f1b, zb-h1: v = 1 only (sum of 3p over p = 1..8 = 108); interleaved: v = 1 all m, v > 1 multiples of p and p >= 2 (2 * 3 * 7)
            assertEquals(name.equals("interleaved") ? 108 + 42 : 108, accepted, name + ": sizes accepted");
        }
    }

    @Test
    void gpipeAnd1f1bBubbleIsPMinus1OverMPlusPMinus1OnEveryRank() {
        for (String name : List.of("gpipe", "1f1b"))
            forEachSize(Schedules.named(name), (p, m, v, lists) -> {
                DryRun.Result r = DryRun.run(lists, p, v, DryRun.Costs.EQUAL);
                double formula = (p - 1.0) / (m + p - 1.0);
                for (int rank = 0; rank < p; rank++) assertEquals(formula, r.bubble()[rank], EXACT, at(name, p, m, v) + " rank " + rank);
                assertEquals(3.0 * (m + p - 1), r.makespan(), EXACT, at(name, p, m, v) + " makespan");
            });
    }

    /** Megatron's formula holds exactly wherever the schedule runs: m a multiple of p (so m >= p), every v, chunks of equal cost. */
    @Test
    void interleavedBubbleIsPMinus1OverVMPlusPMinus1() {
        int withChunks = forEachSize(new Interleaved(), (p, m, v, lists) -> {
            DryRun.Result r = DryRun.run(lists, p, v, DryRun.Costs.EQUAL);
            double formula = (p - 1.0) / (v * m + p - 1.0);
            assertEquals(formula, r.meanBubble(), EXACT, at("interleaved", p, m, v));
        });
        assertTrue(withChunks > 108, "some sizes with v > 1 were run");
    }

    /**
     * The paper's claim (section 3.1): ZB-H1's bubble is (p - 1)(T_F + T_B - T_W), a third of
     * 1F1B's (p - 1)(T_F + T_B + T_W) when F = B = W, for m >= p. That is idle time; as a fraction
     * of the step it is (p - 1) / (3m + p - 1), more than a third of 1F1B's fraction since the step
     * is shorter too (p = 8, m = 8: 0.226 against 0.467 / 3 = 0.156).
     */
    @Test
    void zbH1IdleTimeIsAThirdOf1f1bsForMAtLeastP() {
        for (int p = 2; p <= 8; p++)
            for (int m = p; m <= 3 * p; m++) {
                DryRun.Result zb = DryRun.run(new ZeroBubbleH1().actions(p, m, 1), p, 1, DryRun.Costs.EQUAL);
                DryRun.Result oneF = DryRun.run(new OneFOneB().actions(p, m, 1), p, 1, DryRun.Costs.EQUAL);
                String at = at("zb-h1", p, m, 1);
                for (int r = 0; r < p; r++) {
                    assertEquals(p - 1.0, zb.idle(r), 1e-9, at + " rank " + r + " idle time");
                    assertTrue(zb.idle(r) <= oneF.idle(r) / 3 + 1e-9, at + " rank " + r + ": " + zb.idle(r) + " > a third of " + oneF.idle(r));
                }
                assertEquals((p - 1.0) / (3 * m + p - 1.0), zb.meanBubble(), 0.02, at + " bubble fraction");
                assertTrue(zb.meanBubble() < oneF.meanBubble(), at);
            }
    }

    @Test
    void activationsInFlight() {
        forEachSize(new GPipe(), (p, m, v, lists) ->
                assertEquals(m, DryRun.run(lists, p, v, DryRun.Costs.EQUAL).peakActivations()[0], at("gpipe", p, m, v) + " stage 0"));
        forEachSize(new OneFOneB(), (p, m, v, lists) -> {
            DryRun.Result oneF = DryRun.run(lists, p, v, DryRun.Costs.EQUAL);
            assertEquals(Math.min(m, p), oneF.peakActivations()[0], at("1f1b", p, m, v) + " stage 0");
            assertTrue(oneF.peakActivations()[0] <= p, at("1f1b", p, m, v));
            DryRun.Result zb = DryRun.run(new ZeroBubbleH1().actions(p, m, 1), p, 1, DryRun.Costs.EQUAL);
            for (int s = 0; s < p; s++) {
                assertTrue(zb.peakActivations()[s] <= oneF.peakActivations()[s], at("zb-h1", p, m, v) + " stage " + s + " activations");
                // rank s defers s W's: it keeps at most s + 1 micro-batches' W inputs
                assertEquals(Math.min(m, s + 1), zb.peakWeightInputs()[s], at("zb-h1", p, m, v) + " stage " + s + " W inputs");
                assertEquals(0, oneF.peakWeightInputs()[s], at("1f1b", p, m, v) + " keeps no W inputs");
            }
        });
    }

    /** Megatron's interleaved warm-up, 2 (p - r - 1) + (v - 1) p forwards, plus the one of the first steady step. */
    @Test
    void interleavedActivationsPerRankFollowTheWarmUp() {
        forEachSize(new Interleaved(), (p, m, v, lists) -> {
            DryRun.Result r = DryRun.run(lists, p, v, DryRun.Costs.EQUAL);
            for (int rank = 0; rank < p; rank++) {
                int expected = v == 1 ? Math.min(m, p - rank) : Math.min(m * v, 2 * (p - rank - 1) + (v - 1) * p + 1);
                assertEquals(expected, r.peakActivationsPerRank()[rank], at("interleaved", p, m, v) + " rank " + rank);
            }
        });
    }

    @Test
    void withOneRankEverySchedulesRunsEachMicroBatchThrough() {
        List<Action> fused = List.of(Action.of(Kind.F, 0, 0), Action.of(Kind.BW, 0, 0), Action.of(Kind.F, 0, 1), Action.of(Kind.BW, 0, 1));
        assertEquals(List.of(fused), new OneFOneB().actions(1, 2, 1));
        assertEquals(List.of(fused), new Interleaved().actions(1, 2, 1));
        assertEquals(List.of(List.of(Action.of(Kind.F, 0, 0), Action.of(Kind.B, 0, 0), Action.of(Kind.W, 0, 0),
                Action.of(Kind.F, 0, 1), Action.of(Kind.B, 0, 1), Action.of(Kind.W, 0, 1))), new ZeroBubbleH1().actions(1, 2, 1));
        // GPipe is all forwards then all backwards, whatever p
        assertEquals(List.of(List.of(Action.of(Kind.F, 0, 0), Action.of(Kind.F, 0, 1), Action.of(Kind.BW, 0, 0), Action.of(Kind.BW, 0, 1))),
                new GPipe().actions(1, 2, 1));
    }

    @Test
    void oneFOneBLastRankOfTwoReceivesThenComputesThenSends() {
        List<List<Action>> lists = new OneFOneB().actions(2, 2, 1);
        assertEquals(List.of(Action.of(Kind.F, 0, 0), Action.of(Kind.SEND_F, 0, 0), Action.of(Kind.F, 0, 1), Action.of(Kind.SEND_F, 0, 1),
                Action.of(Kind.RECV_B, 0, 0), Action.of(Kind.BW, 0, 0), Action.of(Kind.RECV_B, 0, 1), Action.of(Kind.BW, 0, 1)), lists.get(0));
        assertEquals(List.of(Action.of(Kind.RECV_F, 1, 0), Action.of(Kind.F, 1, 0), Action.of(Kind.BW, 1, 0), Action.of(Kind.SEND_B, 1, 0),
                Action.of(Kind.RECV_F, 1, 1), Action.of(Kind.F, 1, 1), Action.of(Kind.BW, 1, 1), Action.of(Kind.SEND_B, 1, 1)), lists.get(1));
    }

    @Test
    void refusalsNameTheFlagAndAValueThatWorks() {
        UserError unknown = assertThrows(UserError.class, () -> Schedules.named("pipedream"));
        assertEquals("unknown --schedule 'pipedream'; known schedules: gpipe, 1f1b, interleaved, zb-h1", unknown.getMessage());
        UserError notMultiple = assertThrows(UserError.class, () -> new Interleaved().actions(4, 6, 2));
        assertTrue(notMultiple.getMessage().contains("--micro-batches 8"), notMultiple.getMessage());
        UserError virtual = assertThrows(UserError.class, () -> new OneFOneB().actions(4, 8, 2));
        assertTrue(virtual.getMessage().contains("--virtual-stages 1"), virtual.getMessage());
        UserError oneRank = assertThrows(UserError.class, () -> new Interleaved().actions(1, 4, 2));
        assertTrue(oneRank.getMessage().contains("--virtual-stages 1"), oneRank.getMessage());
        assertThrows(UserError.class, () -> new GPipe().actions(2, 0, 1));
        // once a multiple of p, interleaved takes it
        ScheduleValidator.check(new Interleaved().actions(4, 8, 2), 4, 8, 2);
    }
}
