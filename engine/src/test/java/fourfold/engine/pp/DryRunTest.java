package fourfold.engine.pp;

import fourfold.engine.pp.Action.Kind;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class DryRunTest {
    static Action a(Kind k, int stage, int mb) {
        return Action.of(k, stage, mb);
    }

    /**
     * A pair of lists the validator accepts (every message sent and received, in the same order)
     * that cannot run: rank 0 waits for the gradient of micro-batch 0 before it sends micro-batch
     * 1's forward, and rank 1 waits for micro-batch 1's forward before it runs any backward.
     */
    @Test
    void reportsAScheduleThatDoesNotProgress() {
        List<List<Action>> lists = List.of(
                List.of(a(Kind.F, 0, 0), a(Kind.SEND_F, 0, 0), a(Kind.RECV_B, 0, 0), a(Kind.BW, 0, 0),
                        a(Kind.F, 0, 1), a(Kind.SEND_F, 0, 1), a(Kind.RECV_B, 0, 1), a(Kind.BW, 0, 1)),
                List.of(a(Kind.RECV_F, 1, 0), a(Kind.F, 1, 0), a(Kind.RECV_F, 1, 1), a(Kind.F, 1, 1),
                        a(Kind.BW, 1, 0), a(Kind.SEND_B, 1, 0), a(Kind.BW, 1, 1), a(Kind.SEND_B, 1, 1)));
        ScheduleValidator.check(lists, 2, 2, 1);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> DryRun.run(lists, 2, 1, DryRun.Costs.EQUAL));
        assertEquals("schedule does not progress: rank 0 waits at action rB0.s0 (index 2); rank 1 waits at action rF1.s1 (index 2)", e.getMessage());
    }

    @Test
    void oneFOneBOnTwoRanksByHand() {
        // rank 0: F0 [0,1] F1 [1,2] idle BW0 [4,6] BW1 [8,10]; rank 1: F0 [1,2] BW0 [2,4] F1 [4,5] BW1 [5,7]
        DryRun.Result r = DryRun.run(new OneFOneB().actions(2, 2, 1), 2, 1, DryRun.Costs.EQUAL);
        assertEquals(List.of(new DryRun.Slot(a(Kind.F, 0, 0), 0, 1), new DryRun.Slot(a(Kind.F, 0, 1), 1, 2),
                new DryRun.Slot(a(Kind.BW, 0, 0), 4, 6), new DryRun.Slot(a(Kind.BW, 0, 1), 7, 9)), r.timelines().get(0));
        assertEquals(List.of(new DryRun.Slot(a(Kind.F, 1, 0), 1, 2), new DryRun.Slot(a(Kind.BW, 1, 0), 2, 4),
                new DryRun.Slot(a(Kind.F, 1, 1), 4, 5), new DryRun.Slot(a(Kind.BW, 1, 1), 5, 7)), r.timelines().get(1));
        assertEquals(9, r.makespan());
        assertArrayEquals(new double[]{3.0 / 9, 3.0 / 9}, r.bubble(), 1e-12);
        assertEquals(1.0 / 3, r.meanBubble(), 1e-12, "(p-1)/(m+p-1) at p = m = 2");
    }

    @Test
    void latencyDelaysEveryHopAndUnequalStagesShowInTheBubble() {
        // GPipe p = 2, m = 1: F0 on rank 0 [0,1], message, F0 on rank 1, BW on rank 1, message, BW on rank 0
        DryRun.Result r = DryRun.run(new GPipe().actions(2, 1, 1), 2, 1, DryRun.Costs.EQUAL.withLatency(0.5));
        assertEquals(1 + 0.5 + 1 + 2 + 0.5 + 2, r.makespan(), 1e-12);
        // stage 1 twice as costly: rank 1 busy 6 of 9, rank 0 busy 3 of 9
        DryRun.Result slow = DryRun.run(new GPipe().actions(2, 1, 1), 2, 1, DryRun.Costs.EQUAL.withStageScale(1, 2));
        assertEquals(9, slow.makespan(), 1e-12);
        assertArrayEquals(new double[]{6.0 / 9, 3.0 / 9}, slow.bubble(), 1e-12);
    }

    @Test
    void splitCostsCountSeparately() {
        // zb-h1 on one rank, F = 1, B = 2, W = 3: no bubble, makespan 6 per micro-batch
        DryRun.Result r = DryRun.run(new ZeroBubbleH1().actions(1, 3, 1), 1, 1, DryRun.Costs.of(1, 2, 3, 5));
        assertEquals(18, r.makespan(), 1e-12);
        assertEquals(0, r.meanBubble(), 1e-12);
        assertEquals(1, r.peakActivations()[0]);
        assertEquals(1, r.peakWeightInputs()[0]);
    }

    @Test
    void interleavedCountsActivationsPerRankOverItsChunks() {
        DryRun.Result r = DryRun.run(new Interleaved().actions(2, 4, 2), 2, 2, DryRun.Costs.EQUAL);
        // rank 0 holds stages 0 and 2; its peak over both is at least each stage's own peak
        assertTrue(r.peakActivationsPerRank()[0] >= Math.max(r.peakActivations()[0], r.peakActivations()[2]));
        assertTrue(r.peakActivationsPerRank()[0] <= r.peakActivations()[0] + r.peakActivations()[2]);
    }
}
