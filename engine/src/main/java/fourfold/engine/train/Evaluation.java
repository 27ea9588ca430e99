package fourfold.engine.train;

import fourfold.devices.comm.ProcessGroup;
import fourfold.engine.data.Batch;
import fourfold.engine.data.EvalWindows;
import fourfold.engine.data.TokenSpan;
import fourfold.engine.model.Llama;
import fourfold.engine.model.MicroBatch;
import fourfold.engine.pp.Action;
import fourfold.engine.pp.Executor;
import fourfold.engine.pp.StageWork;
import fourfold.engine.tensor.Scalars;
import fourfold.engine.tensor.Tensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The validation loss: each dp rank scores its share of every eval batch (cp ranks their tokens of it) through a forward-only
 * pipeline (every stage in order: receive, forward without gradient, send on), run by the same
 * {@link Executor} as training; the last stage adds up the token losses.
 */
final class Evaluation {
    private final TokenSpan validation;
    private final TrainOptions options;
    private final ProcessGroup lossGroup;
    private final MicroBatches batching;

    Evaluation(TokenSpan validation, TrainOptions options, ProcessGroup lossGroup, MicroBatches batching) {
        this.batching = batching;
        this.validation = validation;
        this.options = options;
        this.lossGroup = lossGroup;
    }

    /** Mean loss over the validation windows. */
    double loss(RankModel model) {
        model.gatherAll();
        try {
            EvalWindows windows = new EvalWindows(validation, options.seq(), options.batch());
            ProcessGroup dpGroup = model.batchGroup();
            double sum = 0;
            long tokens = 0;
            int seen = 0;
            for (Batch b : windows) {
                if (options.evalWindows() > 0 && seen >= options.evalWindows()) break;
                if (options.evalWindows() > 0 && seen + b.B() > options.evalWindows()) b = b.rows(0, options.evalWindows() - seen);
                ProcessGroup.Chunk mine = ProcessGroup.chunk(b.B(), dpGroup.size(), dpGroup.rank());
                double local = 0;
                if (mine.length() > 0) {
                    Batch rows = b.rows((int) mine.start(), (int) mine.length());
                    local = forwardOnly(model, batching.of(rows));
                }
                sum += Scalars.allReduceSum(lossGroup, model.device(), local);
                tokens += b.tokens();
                seen += b.B();
            }
            return sum / tokens;
        } finally {
            model.releaseAll();
        }
    }

    private static double forwardOnly(RankModel model, MicroBatch mb) {
        int p = model.ppGroup().size(), r = model.ppGroup().rank(), stages = p * model.chunks().size();
        List<Action> actions = new ArrayList<>();
        List<StageWork> work = new ArrayList<>();
        List<Scoring> scorings = new ArrayList<>();
        for (int c = 0; c < model.chunks().size(); c++) {
            int s = c * p + r;
            if (s > 0) actions.add(Action.of(Action.Kind.RECV_F, s, 0));
            actions.add(Action.of(Action.Kind.F, s, 0));
            if (s < stages - 1) actions.add(Action.of(Action.Kind.SEND_F, s, 0));
            Scoring sc = new Scoring(model.chunks().get(c), mb);
            scorings.add(sc);
            work.add(sc);
        }
        new Executor(model.ppGroup(), work, null).run(actions);
        double loss = 0;
        for (Scoring sc : scorings) loss += sc.lossSum;
        return loss;
    }

    /** One chunk's forward without gradient; its output lives until it has been sent. */
    private static final class Scoring implements StageWork {
        private final Llama model;
        private final MicroBatch mb;
        private final Map<Integer, Tensor> outputs = new HashMap<>();
        private double lossSum;

        Scoring(Llama model, MicroBatch mb) {
            this.model = model;
            this.mb = mb;
        }

        @Override
        public int[] boundaryShape(int microBatch) {
            return new int[]{model.tp().localRows(mb.tokens()), model.config().dim()};
        }

        @Override
        public Tensor forward(int microBatch, Tensor input) {
            Llama.Evaluated e = model.evaluate(mb, input);
            lossSum += e.lossSum();
            if (e.output() != null) outputs.put(microBatch, e.output());
            return e.output();
        }

        @Override
        public void sent(int microBatch) {
            outputs.remove(microBatch).close();
        }

        @Override
        public Tensor backward(int microBatch, Tensor dOutput) {
            throw new UnsupportedOperationException("evaluation runs no backward");
        }

        @Override
        public Tensor backwardInput(int microBatch, Tensor dOutput) {
            throw new UnsupportedOperationException("evaluation runs no backward");
        }

        @Override
        public void backwardWeights(int microBatch) {
            throw new UnsupportedOperationException("evaluation runs no backward");
        }
    }
}
