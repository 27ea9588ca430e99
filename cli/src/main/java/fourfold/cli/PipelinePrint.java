package fourfold.cli;

import fourfold.engine.model.LlamaConfig;
import fourfold.engine.pp.SchedulePrinter;
import fourfold.engine.pp.Schedules;
import fourfold.engine.pp.StageSplit;
import fourfold.engine.train.Layout;

import java.util.Locale;

/** What --print-schedule shows: the schedule's report (lists, dry run) and the layers of each stage. */
final class PipelinePrint {
    private PipelinePrint() {}

    static String format(Layout layout, LlamaConfig model) {
        int p = layout.pp(), m = layout.microBatches(), v = layout.pipeline().virtualStages();
        StageSplit split = StageSplit.of(model, layout.stages(), layout.pipeline().stageLayers());
        return SchedulePrinter.report(Schedules.named(layout.pipeline().schedule()), p, m, v)
                + String.format(Locale.ROOT, "%nlayers per stage: %s (%d stages, %d decoder layers)%n", split, layout.stages(), model.nLayers());
    }
}
