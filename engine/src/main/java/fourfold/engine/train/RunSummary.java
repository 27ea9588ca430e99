package fourfold.engine.train;

import fourfold.devices.MemoryTag;
import fourfold.engine.model.LlamaConfig;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The figures of a whole run, gathered step by step: what the end-of-run table of `train` and
 * each row of `compare` show. Wall-clock throughput leaves out the first step (JIT warm-up) when
 * there are more; simulated figures are the same every step, so they are means over all steps.
 */
public final class RunSummary {
    private final String layout;
    private final LlamaConfig model;
    private final int seq;
    private final long tokensPerStep;
    private final int devices;
    private final double peakFlopsPerDevice;
    private final List<Double> losses = new ArrayList<>();
    private final List<EnumMap<MemoryTag, Long>> peakByDevice = new ArrayList<>();
    private final Map<String, Long> bytesPerAxis = new TreeMap<>();
    private double wallSeconds, wallSecondsAfterFirst, simSeconds;
    private double bubbleSum;
    private int bubbleSteps;
    private long peakBytes;

    public RunSummary(Layout layout, LlamaConfig model, int seq, long tokensPerStep, double peakFlopsPerDevice) {
        this.layout = LayoutSpec.of(layout).toString();
        this.model = model;
        this.seq = seq;
        this.tokensPerStep = tokensPerStep;
        this.devices = layout.devices();
        this.peakFlopsPerDevice = peakFlopsPerDevice;
    }

    /** The run's mesh in shorthand, e.g. "dp2,tp2" ("single" for one device). */
    public String layout() {
        return layout;
    }

    public int devices() {
        return devices;
    }

    public void add(StepMetrics m) {
        if (!losses.isEmpty()) wallSecondsAfterFirst += m.stepSeconds();
        losses.add(m.loss());
        wallSeconds += m.stepSeconds();
        simSeconds += m.simSeconds();
        if (!Double.isNaN(m.ppBubble())) {
            bubbleSum += m.ppBubble();
            bubbleSteps++;
        }
        List<EnumMap<MemoryTag, Long>> peaks = m.peakByDevice();
        for (int d = 0; d < peaks.size(); d++) {
            if (peakByDevice.size() <= d) peakByDevice.add(new EnumMap<>(MemoryTag.class));
            EnumMap<MemoryTag, Long> kept = peakByDevice.get(d);
            peaks.get(d).forEach((tag, bytes) -> kept.merge(tag, bytes, Math::max));
        }
        peakBytes = Math.max(peakBytes, m.peakBytes());
        m.bytesPerAxis().forEach((axis, bytes) -> bytesPerAxis.merge(axis, bytes, Long::sum));
    }

    /** MFU of one step under the run's hardware profile (see {@link ModelFlops}). */
    public double mfu(StepMetrics m) {
        return ModelFlops.mfu(model, seq, tokensPerStep, m.simSeconds(), devices, peakFlopsPerDevice);
    }

    public int steps() {
        return losses.size();
    }

    /** Training loss of each step, in order. */
    public List<Double> losses() {
        return List.copyOf(losses);
    }

    public double finalLoss() {
        return losses.isEmpty() ? Double.NaN : losses.getLast();
    }

    /** Wall-clock tokens per second over the steps after the first (all steps when there is one). */
    public double tokensPerSecond() {
        int n = losses.size();
        return n > 1 ? tokensPerStep * (n - 1) / wallSecondsAfterFirst : tokensPerStep / wallSeconds;
    }

    /** Mean simulated step time of the slowest device. */
    public double simStepSeconds() {
        return simSeconds / losses.size();
    }

    public double mfu() {
        return ModelFlops.mfu(model, seq, tokensPerStep, simStepSeconds(), devices, peakFlopsPerDevice);
    }

    /** Mean pipeline bubble over the steps (see PipelineBubble); NaN without pipeline parallel. */
    public double ppBubble() {
        return bubbleSteps == 0 ? Double.NaN : bubbleSum / bubbleSteps;
    }

    /** Each device's peak bytes per tag, the largest over all steps. */
    public List<EnumMap<MemoryTag, Long>> peakByDevice() {
        return peakByDevice.stream().map(EnumMap::new).toList();
    }

    /** The largest peak of one device's arena over the run (all tags together). */
    public long peakBytes() {
        return peakBytes;
    }

    /** Bytes all devices sent per step, by process group (mean over the steps). */
    public Map<String, Long> bytesPerAxisPerStep() {
        Map<String, Long> out = new TreeMap<>();
        bytesPerAxis.forEach((axis, bytes) -> out.put(axis, bytes / losses.size()));
        return out;
    }
}
