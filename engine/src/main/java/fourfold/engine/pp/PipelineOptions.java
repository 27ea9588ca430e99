package fourfold.engine.pp;

import java.util.List;

/**
 * How the pipeline axis runs: the schedule's name (--schedule), the chunks per rank
 * (--virtual-stages) and, optionally, the layers of every stage (--stage-layers, one count per
 * stage; empty: the balanced split).
 */
public record PipelineOptions(String schedule, int virtualStages, List<Integer> stageLayers) {
    public static final PipelineOptions DEFAULT = new PipelineOptions("1f1b", 1, List.of());

    public PipelineOptions {
        stageLayers = stageLayers == null ? List.of() : List.copyOf(stageLayers);
    }

    @Override
    public String toString() {
        return "schedule=" + schedule + (virtualStages > 1 ? " virtual-stages=" + virtualStages : "")
                + (stageLayers.isEmpty() ? "" : " stage-layers=" + String.join(",", stageLayers.stream().map(String::valueOf).toList()));
    }
}
