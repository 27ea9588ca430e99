package fourfold.engine.pp;

import fourfold.engine.pp.Action.Kind;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs every rank's list against the others without a model: a compute action takes its cost, a
 * send is eager (the message arrives {@code latency} after it), a receive waits for its message.
 * Gives each rank's timeline, the bubbles and the peak number of micro-batches held; finds lists
 * that wait on each other forever.
 *
 * <p>The bubble of rank r is the fraction of the pipeline phase (first compute start to last
 * compute end over all ranks) in which r computes nothing. It is measured on the whole phase, not
 * on r's own first-to-last span, because the step ends when the last rank ends: under GPipe the
 * last rank computes without a gap from its first F to its last BW, yet it idles p - 1 forward
 * times at the start like every rank.
 */
public final class DryRun {
    private DryRun() {}

    /** Cost of each compute kind, optionally scaled per global stage; latency of every message. */
    public record Costs(double f, double b, double w, double bw, double latency, double[] stageScale) {
        /** F = B = W = 1, BW = 2, no latency: the unit the bubble formulas count in. */
        public static final Costs EQUAL = new Costs(1, 1, 1, 2, 0, null);

        public static Costs of(double f, double b, double w, double bw) {
            return new Costs(f, b, w, bw, 0, null);
        }

        public Costs withLatency(double latency) {
            return new Costs(f, b, w, bw, latency, stageScale);
        }

        /** Stage s's compute costs times {@code scale[s]} (unequal stages). */
        public Costs withStageScale(double... scale) {
            return new Costs(f, b, w, bw, latency, scale.clone());
        }

        double of(Action a) {
            double base = switch (a.kind()) {
                case F -> f;
                case B -> b;
                case W -> w;
                case BW -> bw;
                default -> 0;
            };
            return stageScale == null ? base : base * stageScale[a.stage()];
        }
    }

    /** One compute action on a rank's timeline. */
    public record Slot(Action action, double start, double end) {}

    /**
     * @param timelines         per rank, its compute actions with start and end times
     * @param phaseStart        first compute start over all ranks
     * @param phaseEnd          last compute end over all ranks (the makespan, as the step starts at 0)
     * @param bubble            per rank, idle compute time / (phaseEnd - phaseStart)
     * @param peakActivations   per global stage, most micro-batches with F done and B / BW not yet
     * @param peakWeightInputs  per global stage, most micro-batches with B done and W not yet
     * @param peakActivationsPerRank  the same summed over a rank's chunks, at its worst moment
     * @param peakWeightInputsPerRank the same for W inputs
     */
    public record Result(List<List<Slot>> timelines, double phaseStart, double phaseEnd, double[] bubble,
                         int[] peakActivations, int[] peakWeightInputs, int[] peakActivationsPerRank, int[] peakWeightInputsPerRank) {
        public double makespan() {
            return phaseEnd;
        }

        public double meanBubble() {
            return Arrays.stream(bubble).average().orElse(0);
        }

        /** Time rank r computes nothing during the phase. */
        public double idle(int r) {
            return bubble[r] * (phaseEnd - phaseStart);
        }
    }

    public static Result run(List<List<Action>> ranks, int p, int v, Costs costs) {
        double[] clock = new double[p];
        int[] next = new int[p];
        List<List<Slot>> timelines = new ArrayList<>(p);
        for (int r = 0; r < p; r++) timelines.add(new ArrayList<>());
        Map<Action, Double> arrivals = new HashMap<>(); // send action -> when its message is there
        boolean moved = true;
        while (moved) {
            moved = false;
            for (int r = 0; r < p; r++) {
                List<Action> list = ranks.get(r);
                while (next[r] < list.size()) {
                    Action a = list.get(next[r]);
                    if (a.kind().isCompute()) {
                        double end = clock[r] + costs.of(a);
                        timelines.get(r).add(new Slot(a, clock[r], end));
                        clock[r] = end;
                    } else if (Communication.isSend(a.kind())) {
                        arrivals.put(a, clock[r] + costs.latency());
                    } else {
                        Double at = arrivals.get(Communication.matchingSend(a));
                        if (at == null) break;
                        clock[r] = Math.max(clock[r], at);
                    }
                    next[r]++;
                    moved = true;
                }
            }
        }
        checkProgress(ranks, next);
        return summarize(ranks, timelines, p, v);
    }

    private static void checkProgress(List<List<Action>> ranks, int[] next) {
        List<String> waiting = new ArrayList<>();
        for (int r = 0; r < ranks.size(); r++)
            if (next[r] < ranks.get(r).size())
                waiting.add("rank " + r + " waits at action " + ranks.get(r).get(next[r]).label(true) + " (index " + next[r] + ")");
        if (!waiting.isEmpty()) throw new IllegalStateException("schedule does not progress: " + String.join("; ", waiting));
    }

    private static Result summarize(List<List<Action>> ranks, List<List<Slot>> timelines, int p, int v) {
        double start = Double.POSITIVE_INFINITY, end = 0;
        for (List<Slot> t : timelines)
            if (!t.isEmpty()) {
                start = Math.min(start, t.getFirst().start());
                end = Math.max(end, t.getLast().end());
            }
        if (start == Double.POSITIVE_INFINITY) start = 0;
        double phase = end - start;
        double[] bubble = new double[p];
        for (int r = 0; r < p; r++) {
            double busy = timelines.get(r).stream().mapToDouble(s -> s.end() - s.start()).sum();
            bubble[r] = phase > 0 ? (phase - busy) / phase : 0;
        }
        int[] actStage = new int[p * v], wStage = new int[p * v], actRank = new int[p], wRank = new int[p];
        for (int r = 0; r < p; r++) peaks(ranks.get(r), r, p * v, actStage, wStage, actRank, wRank);
        return new Result(timelines, start, end, bubble, actStage, wStage, actRank, wRank);
    }

    /** Peaks follow the list order, which is the rank's time order: they do not depend on the costs. */
    private static void peaks(List<Action> list, int r, int stages, int[] actStage, int[] wStage, int[] actRank, int[] wRank) {
        int[] act = new int[stages], kept = new int[stages];
        int actSum = 0, keptSum = 0;
        for (Action a : list) {
            int s = a.stage();
            switch (a.kind()) {
                case F -> { act[s]++; actSum++; }
                case BW -> { act[s]--; actSum--; }
                case B -> { act[s]--; actSum--; kept[s]++; keptSum++; }
                case W -> { kept[s]--; keptSum--; }
                default -> { continue; }
            }
            actStage[s] = Math.max(actStage[s], act[s]);
            wStage[s] = Math.max(wStage[s], kept[s]);
            actRank[r] = Math.max(actRank[r], actSum);
            wRank[r] = Math.max(wRank[r], keptSum);
        }
    }
}
