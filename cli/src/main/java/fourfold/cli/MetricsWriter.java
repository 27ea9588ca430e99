package fourfold.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import fourfold.devices.MemoryTag;
import fourfold.engine.UserError;
import fourfold.engine.train.RunSummary;
import fourfold.engine.train.StepMetrics;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;

/** Writes one JSON object per step. */
final class MetricsWriter implements AutoCloseable {
    private final PrintWriter out;

    private MetricsWriter(PrintWriter out) {
        this.out = out;
    }

    static MetricsWriter open(Path file) {
        if (file == null) return new MetricsWriter(null);
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            return new MetricsWriter(new PrintWriter(Files.newBufferedWriter(file), true));
        } catch (IOException e) {
            String why = e instanceof FileSystemException f && f.getReason() != null ? f.getReason() : "it cannot be created";
            throw new UserError("cannot write --metrics-out " + file + ": " + why + "; choose another --metrics-out");
        }
    }

    /**
     * One step: the per-step figures, the run's layout (so that plots and comparisons can name
     * each run), MFU, each device's peak bytes per memory tag, and the bytes all devices sent per
     * process group.
     */
    void write(StepMetrics m, RunSummary run) {
        if (out == null) return;
        var o = new JsonObject();
        o.addProperty("step", m.step());
        o.addProperty("loss", m.loss());
        o.addProperty("lr", m.lr());
        o.addProperty("grad_norm", m.gradNorm());
        o.addProperty("tokens_per_s", m.tokensPerSecond());
        o.addProperty("step_s", m.stepSeconds());
        o.addProperty("sim_step_s", m.simSeconds());
        o.addProperty("peak_bytes", m.peakBytes());
        if (!Double.isNaN(m.ppBubble())) o.addProperty("pp_bubble", m.ppBubble());
        if (!Double.isNaN(m.valLoss())) o.addProperty("val_loss", m.valLoss());
        o.addProperty("layout", run.layout());
        o.addProperty("mfu", run.mfu(m));
        var devices = new JsonArray();
        for (EnumMap<MemoryTag, Long> peak : m.peakByDevice()) {
            var d = new JsonObject();
            peak.forEach((tag, bytes) -> d.addProperty(tag.label(), bytes));
            devices.add(d);
        }
        o.add("peak_bytes_by_device", devices);
        var sent = new JsonObject();
        m.bytesPerAxis().forEach(sent::addProperty);
        o.add("bytes_sent", sent);
        out.println(o);
    }

    @Override
    public void close() {
        if (out != null) out.close();
    }
}
