package fourfold.cli;

import fourfold.cli.plot.ChartFiles;
import fourfold.cli.plot.Charts;
import fourfold.cli.plot.MetricsRun;
import fourfold.cli.plot.TraceTimeline;
import fourfold.engine.UserError;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "plot", mixinStandardHelpOptions = true,
        description = {"Draw runs as PNG and SVG: the loss curves of the metrics files (train --metrics-out) on one chart, each run's",
                "peak memory per device stacked by tag, and with --trace the timeline of one step per device (train --trace)."})
final class PlotCommand implements Callable<Integer> {
    @Parameters(arity = "0..*", paramLabel = "RUN.jsonl", description = "Metrics files written by train --metrics-out.")
    List<Path> runs = new ArrayList<>();
    @Option(names = "--trace", description = "A Chrome trace written by train --trace: draw one step of it per device.")
    Path trace;
    @Option(names = "--step", defaultValue = "1", description = "The step of --trace to draw (default: ${DEFAULT-VALUE}).")
    int step;
    @Option(names = "--out", required = true, description = "Directory for the PNG and SVG files (created if missing).")
    Path out;
    @Option(names = "--width", defaultValue = "900", description = "Picture width in pixels (default: ${DEFAULT-VALUE}).")
    int width;
    @Option(names = "--height", defaultValue = "560", description = "Height of the loss and memory pictures in pixels (default: ${DEFAULT-VALUE}).")
    int height;

    @Override
    public Integer call() {
        System.setProperty("java.awt.headless", "true"); // draw without a display
        if (runs.isEmpty() && trace == null) throw new UserError("nothing to plot: give metrics files (train --metrics-out) and/or --trace FILE");
        if (width < 200 || height < 150) throw new UserError("--width and --height must be at least 200 x 150 pixels, got " + width + " x " + height);
        List<Path> written = new ArrayList<>();
        if (!runs.isEmpty()) {
            List<MetricsRun> loaded = distinctNames(runs.stream().map(MetricsRun::read).toList());
            written.addAll(ChartFiles.write(Charts.loss(loaded, width, height), out, "loss"));
            for (MetricsRun r : loaded) {
                if (r.peakByDevice().isEmpty()) continue; // a file from before per-device memory was recorded
                written.addAll(ChartFiles.write(Charts.memory(r, width, height), out, "memory-" + r.name().replaceAll("[^A-Za-z0-9_.-]+", "-")));
            }
        }
        if (trace != null) {
            written.addAll(ChartFiles.write(Charts.timeline(TraceTimeline.read(trace, step), width), out, "timeline-step" + step));
        }
        for (Path p : written) System.out.println(p);
        return 0;
    }

    /** Two runs of one layout get their file names added, so the legend tells them apart. */
    private List<MetricsRun> distinctNames(List<MetricsRun> loaded) {
        Map<String, Integer> count = new HashMap<>();
        for (MetricsRun r : loaded) count.merge(r.name(), 1, Integer::sum);
        List<MetricsRun> named = new ArrayList<>();
        for (int i = 0; i < loaded.size(); i++) {
            MetricsRun r = loaded.get(i);
            named.add(count.get(r.name()) > 1 ? r.named(r.name() + " (" + runs.get(i).getFileName() + ")") : r);
        }
        return named;
    }
}
