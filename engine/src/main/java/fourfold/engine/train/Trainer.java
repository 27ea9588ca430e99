package fourfold.engine.train;

import fourfold.devices.Device;
import fourfold.engine.data.Batch;
import fourfold.engine.data.BatchSampler;
import fourfold.engine.data.EvalWindows;
import fourfold.engine.data.TextDataset;
import fourfold.engine.data.TokenSpan;
import fourfold.engine.model.Llama;
import fourfold.engine.model.Parameter;

import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A training run: data, model, optimizer and the step loop, with validation and metrics.
 */
public final class Trainer implements AutoCloseable {
    private final TrainOptions options;
    private final Layout layout;
    private final TextDataset dataset;
    private final BatchSampler sampler;
    private final Device device;
    private final RankTrainer rank;
    private int step; // steps done

    public Trainer(TrainOptions options, Layout layout, int threadsPerDevice, long deviceMemory) {
        layout.validate(options.model(), options.batch(), options.seq());
        if (options.seq() > options.model().maxSeq()) {
            throw new fourfold.engine.UserError("--seq " + options.seq() + " exceeds the model's max_position_embeddings " + options.model().maxSeq());
        }
        this.options = options;
        this.layout = layout;
        this.dataset = TextDataset.loadOrEmbedded(options.data());
        this.sampler = BatchSampler.of(options.sampling(), dataset.train(), options.batch(), options.seq(), options.seed());
        dataset.validation().requireWindow(options.seq());
        this.device = new Device(0, deviceMemory, threadsPerDevice);
        Llama model = Llama.singleDevice(options.model(), device);
        model.initialize(options.seed());
        this.rank = new RankTrainer(model, AdamWOptimizer.forParameters(model.parameters(), options.adamw()), layout.microBatches());
    }

    public TrainOptions options() {
        return options;
    }

    public Layout layout() {
        return layout;
    }

    public TextDataset dataset() {
        return dataset;
    }

    public Llama model() {
        return rank.model();
    }

    public AdamWOptimizer optimizer() {
        return rank.optimizer();
    }

    public int stepsDone() {
        return step;
    }

    public void setStepsDone(int s) {
        step = s;
        rank.optimizer().setStepCount(s);
    }

    /** Replaces the initial weights with full tensors from {@code values} (a checkpoint). */
    public void loadWeights(Function<Parameter, float[]> values) {
        rank.model().load(values);
    }

    /** Runs one step and returns its metrics (valLoss is NaN: see {@link #validationLoss}). */
    public StepMetrics step() {
        Batch batch = sampler.batch(step);
        double lr = options.lrSchedule().at(step);
        device.memory().resetPeak();
        double sim0 = device.clock().now();
        long t0 = System.nanoTime();
        RankTrainer.StepResult r = rank.step(batch, options.tokensPerStep(), lr, options.clip());
        double seconds = (System.nanoTime() - t0) / 1e9;
        step++;
        return new StepMetrics(step, r.lossSum() / options.tokensPerStep(), lr, r.gradNorm(),
                options.tokensPerStep() / seconds, seconds, Double.NaN, device.clock().now() - sim0, device.memory().peak());
    }

    /** Mean loss over the validation split (or its first evalWindows windows). */
    public double validationLoss() {
        return meanLoss(dataset.validation(), options.seq(), options.evalWindows());
    }

    /** Mean token loss over every non-overlapping window of {@code span} (at most maxWindows when > 0). */
    public double meanLoss(TokenSpan span, int T, int maxWindows) {
        EvalWindows windows = new EvalWindows(span, T, options.batch());
        double sum = 0;
        long tokens = 0;
        int seen = 0;
        for (Batch b : windows) {
            if (maxWindows > 0 && seen >= maxWindows) break;
            if (maxWindows > 0 && seen + b.B() > maxWindows) b = b.rows(0, maxWindows - seen);
            sum += rank.lossSum(b);
            tokens += b.tokens();
            seen += b.B();
        }
        return sum / tokens;
    }

    /** Trains until {@code options.steps()} steps are done, evaluating every evalEvery steps and at the end. */
    public void train(Consumer<StepMetrics> listener) {
        while (step < options.steps()) {
            StepMetrics m = step();
            boolean eval = step == options.steps() || (options.evalEvery() > 0 && step % options.evalEvery() == 0);
            if (eval) {
                m = new StepMetrics(m.step(), m.loss(), m.lr(), m.gradNorm(), m.tokensPerSecond(), m.stepSeconds(),
                        validationLoss(), m.simSeconds(), m.peakBytes());
            }
            listener.accept(m);
        }
    }

    @Override
    public void close() {
        rank.close();
        device.close();
    }
}
