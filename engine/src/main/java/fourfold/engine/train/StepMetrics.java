package fourfold.engine.train;

import fourfold.devices.MemoryTag;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What one training step reports. valLoss is NaN on steps without evaluation; simTime is the
 * simulated step time of the slowest device; peakBytes the largest per-device peak of the step;
 * ppBubble the pipeline bubble of the step (see PipelineBubble), NaN without pipeline parallel;
 * ranks what each device of this process measured in the step (peak memory per tag, bytes sent
 * per group): every device in process, this process's under MPI.
 */
public record StepMetrics(int step, double loss, double lr, double gradNorm, double tokensPerSecond,
                          double stepSeconds, double valLoss, double simSeconds, long peakBytes,
                          double ppBubble, List<RankReport> ranks) {

    /** Peak bytes per memory tag of each device (rank order) in this step. */
    public List<EnumMap<MemoryTag, Long>> peakByDevice() {
        return ranks.stream().map(RankReport::peak).toList();
    }

    /**
     * Bytes all devices sent in this step, per process group ("dp", "tp", "pp", "cp", or a group
     * over several axes such as "dp×cp", which reduces gradients under context parallel).
     */
    public Map<String, Long> bytesPerAxis() {
        Map<String, Long> out = new TreeMap<>();
        for (RankReport r : ranks) {
            r.bytesSent().forEach((groupAndKind, bytes) -> out.merge(groupAndKind.substring(0, groupAndKind.indexOf('/')), bytes, Long::sum));
        }
        return out;
    }
}
