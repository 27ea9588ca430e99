package fourfold.cli;

import fourfold.engine.UserError;
import fourfold.engine.model.LlamaConfig;
import fourfold.engine.pp.SchedulePrinter;
import fourfold.engine.pp.Schedules;
import fourfold.engine.pp.StageSplit;
import fourfold.engine.train.Layout;

import java.util.Locale;

/**
 * What --print-schedule shows: the schedule's report (lists, dry run) for (pp, micro-batches,
 * virtual stages), and how the model's layers fall into its stages. The schedule is the point, so
 * a model too small for that many stages is said in the last line rather than refused.
 */
final class PipelinePrint {
    private PipelinePrint() {}

    static String format(Layout layout, LlamaConfig model) {
        int p = layout.pp(), m = layout.microBatches(), v = layout.pipeline().virtualStages();
        String report = SchedulePrinter.report(Schedules.named(layout.pipeline().schedule()), p, m, v);
        String stages;
        try {
            StageSplit split = StageSplit.of(model, layout.stages(), layout.pipeline().stageLayers());
            stages = String.format(Locale.ROOT, "layers per stage: %s (%d stages, %d decoder layers)", split, layout.stages(), model.nLayers());
        } catch (UserError e) {
            stages = "this model cannot be cut into these stages for training: " + e.getMessage();
        }
        return report + System.lineSeparator() + stages + System.lineSeparator();
    }
}
