package fourfold.engine.pp;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class SchedulePrinterTest {
    @Test
    void computeOnlyTable() {
        assertEquals("""
                rank 0 | F0 F1 B0 W0 F2 B1 W1 B2 W2
                rank 1 | F0 B0 F1 B1 W0 F2 B2 W1 W2
                """, SchedulePrinter.table(new ZeroBubbleH1().actions(2, 3, 1), 1, false));
    }

    @Test
    void withCommunicationAndStages() {
        assertEquals("""
                rank 0 | F0.s0  sF0.s0 F1.s0  sF1.s0 rF0.s2 F0.s2  sF0.s2 rF1.s2 F1.s2  sF1.s2 rB0.s2 BW0.s2 sB0.s2 rB1.s2 BW1.s2 sB1.s2 rB0.s0 BW0.s0 rB1.s0 BW1.s0
                rank 1 | rF0.s1 F0.s1  sF0.s1 rF1.s1 F1.s1  sF1.s1 rF0.s3 F0.s3  BW0.s3 sB0.s3 rF1.s3 F1.s3  BW1.s3 sB1.s3 rB0.s1 BW0.s1 sB0.s1 rB1.s1 BW1.s1 sB1.s1
                """, SchedulePrinter.table(new Interleaved().actions(2, 2, 2), 2, true));
    }

    @Test
    void timelineShowsTheBubble() {
        assertEquals("""
                rank 0 | F0  F1  .   .   BW0 BW0 .   BW1 BW1
                rank 1 | .   F0  BW0 BW0 F1  BW1 BW1 .   .
                """, SchedulePrinter.timeline(DryRun.run(new OneFOneB().actions(2, 2, 1), 2, 1, DryRun.Costs.EQUAL), 1));
    }

    @Test
    void reportForPrintSchedule() {
        assertEquals("""
                schedule 1f1b: pp 2, micro-batches 2, virtual stages 1
                dry run with F = B = W = 1, BW = 2: bubble 0.3333 (mean over ranks), most activations held on rank 0: 2 micro-batches

                actions, in each rank's order:
                rank 0 | F0  F1  BW0 BW1
                rank 1 | F0  BW0 F1  BW1

                on the dry run's time axis (one column per unit, '.': idle):
                rank 0 | F0  F1  .   .   BW0 BW0 .   BW1 BW1
                rank 1 | .   F0  BW0 BW0 F1  BW1 BW1 .   .
                """, SchedulePrinter.report(Schedules.named("1f1b"), 2, 2, 1));
    }
}
