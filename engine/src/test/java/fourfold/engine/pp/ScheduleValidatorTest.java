package fourfold.engine.pp;

import fourfold.engine.pp.Action.Kind;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

class ScheduleValidatorTest {
    /** 1F1B on p = 2, m = 2, edited by {@code breakIt}; returns the validator's message. */
    static String refusalOf(Consumer<List<List<Action>>> breakIt) {
        List<List<Action>> lists = new ArrayList<>();
        for (List<Action> l : new OneFOneB().actions(2, 2, 1)) lists.add(new ArrayList<>(l));
        ScheduleValidator.check(lists, 2, 2, 1); // the unedited schedule passes
        breakIt.accept(lists);
        return assertThrows(IllegalStateException.class, () -> ScheduleValidator.check(lists, 2, 2, 1)).getMessage();
    }

    // rank 0: F0 sF0 F1 sF1 rB0 BW0 rB1 BW1; rank 1: rF0 F0 BW0 sB0 rF1 F1 BW1 sB1

    @Test
    void backwardMovedBeforeForward() {
        String msg = refusalOf(l -> {
            l.get(1).set(1, Action.of(Kind.BW, 1, 0));
            l.get(1).set(2, Action.of(Kind.F, 1, 0));
        });
        assertEquals("invalid schedule: rank 1, action 1 (BW0.s1) runs before its forward (index 2)", msg);
    }

    @Test
    void missingWeightGradient() {
        String msg = refusalOf(l -> {
            l.get(1).set(2, Action.of(Kind.B, 1, 0));
        });
        assertEquals("invalid schedule: rank 1 has no W0.s1", msg);
    }

    @Test
    void weightGradientBeforeB() {
        String msg = refusalOf(l -> {
            l.get(1).set(2, Action.of(Kind.B, 1, 0));
            l.get(1).add(2, Action.of(Kind.W, 1, 0));
        });
        assertEquals("invalid schedule: rank 1, action 2 (W0.s1) runs before its B (index 3)", msg);
    }

    @Test
    void backwardBeforeTheReceiveItNeeds() {
        String msg = refusalOf(l -> {
            l.get(0).set(4, Action.of(Kind.BW, 0, 0));
            l.get(0).set(5, Action.of(Kind.RECV_B, 0, 0));
        });
        assertEquals("invalid schedule: rank 0, action 5 (rB0.s0) comes after the compute that needs the output gradient from stage 1 (index 4)", msg);
    }

    @Test
    void sendWithoutAPeerStage() {
        String msg = refusalOf(l -> l.get(1).add(Action.of(Kind.SEND_F, 1, 1)));
        assertTrue(msg.contains("(sF1.s1) has no peer: stage 1 is the last stage"), msg);
    }

    @Test
    void missingSendAndDuplicateCompute() {
        assertEquals("invalid schedule: rank 0 has no sF1.s0", refusalOf(l -> l.get(0).remove(3)));
        assertEquals("invalid schedule: rank 0, action 8 (F0.s0) appears twice (also at index 0)", refusalOf(l -> l.get(0).add(Action.of(Kind.F, 0, 0))));
        assertEquals("invalid schedule: rank 1 has no F1.s1", refusalOf(l -> l.get(1).remove(5)));
    }

    @Test
    void stageOnTheWrongRankOrMicroBatchOutOfRange() {
        assertTrue(refusalOf(l -> l.get(0).set(0, Action.of(Kind.F, 1, 0))).contains("rank 0, action 0 (F0.s1) stage 1 is not on this rank"));
        assertTrue(refusalOf(l -> l.get(0).set(0, Action.of(Kind.F, 0, 2))).contains("micro-batch 2 is not in [0, 2)"));
    }

    @Test
    void peersDisagreeOnTheOrderOfMessages() {
        // rank 1 runs micro-batch 1 first: its receives from rank 0 come in the order 1, 0
        String msg = refusalOf(l -> {
            List<Action> r1 = l.get(1);
            List<Action> first = new ArrayList<>(r1.subList(0, 4)), second = new ArrayList<>(r1.subList(4, 8));
            r1.clear();
            r1.addAll(second);
            r1.addAll(first);
        });
        assertEquals("invalid schedule: rank 1, action 0 (rF1.s1) is receive 0 from rank 0, whose send 0 to rank 1 is sF0.s0 (index 1): "
                + "the two ranks disagree on the order of their messages", msg);
    }

    @Test
    void wrongNumberOfRanks() {
        assertThrows(IllegalStateException.class, () -> ScheduleValidator.check(new OneFOneB().actions(2, 2, 1), 3, 2, 1));
    }
}
