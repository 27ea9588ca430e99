package fourfold.cli;

import fourfold.engine.model.LlamaConfig;
import fourfold.engine.pp.Action;
import fourfold.engine.pp.DryRun;
import fourfold.engine.pp.SchedulePrinter;
import fourfold.engine.pp.Schedules;
import fourfold.engine.pp.StageSplit;
import fourfold.engine.train.Layout;

import java.util.List;
import java.util.Locale;

/** What --print-schedule shows: the stage split, each pp rank's action list and its bubble with equal costs. */
final class PipelinePrint {
    private PipelinePrint() {}

    static String format(Layout layout, LlamaConfig model) {
        int p = layout.pp(), m = layout.microBatches(), v = layout.pipeline().virtualStages();
        StageSplit split = StageSplit.of(model, layout.stages(), layout.pipeline().stageLayers());
        List<List<Action>> ranks = Schedules.named(layout.pipeline().schedule()).actions(p, m, v);
        DryRun.Result dry = DryRun.run(ranks, p, v, DryRun.Costs.EQUAL);
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "schedule %s: pp %d, micro-batches %d, virtual stages %d; layers per stage %s%n",
                layout.pipeline().schedule(), p, m, v, split));
        sb.append(SchedulePrinter.table(ranks, v, false));
        sb.append(String.format(Locale.ROOT, "bubble with equal stage costs (F 1, B 1, W 1, BW 2): %.3f%n", dry.meanBubble()));
        return sb.toString();
    }
}
