package fourfold.cli.plot;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import fourfold.engine.UserError;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One run's `--metrics-out` file (JSON Lines, one object per step): its name (the layout it
 * recorded, else the file's name), training and validation losses by step, and each device's
 * peak bytes per memory tag, the largest over the steps.
 */
public record MetricsRun(String name, double[] steps, double[] losses, double[] valSteps, double[] valLosses,
                         List<Map<String, Long>> peakByDevice) {

    public static MetricsRun read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UserError("cannot read metrics file " + file + " (" + e.getMessage() + "); give a file written by train --metrics-out");
        }
        String name = null;
        List<Double> steps = new ArrayList<>(), losses = new ArrayList<>(), valSteps = new ArrayList<>(), valLosses = new ArrayList<>();
        List<Map<String, Long>> peaks = new ArrayList<>();
        int n = 0;
        for (String line : lines) {
            n++;
            if (line.isBlank()) continue;
            JsonObject o;
            try {
                o = JsonParser.parseString(line).getAsJsonObject();
            } catch (JsonParseException | IllegalStateException e) {
                throw new UserError(file + " line " + n + " is not a JSON object; give a file written by train --metrics-out");
            }
            if (!o.has("step") || !o.has("loss")) throw new UserError(file + " line " + n + " has no step or loss; give a file written by train --metrics-out");
            double step = o.get("step").getAsDouble();
            steps.add(step);
            losses.add(o.get("loss").getAsDouble());
            if (o.has("val_loss")) {
                valSteps.add(step);
                valLosses.add(o.get("val_loss").getAsDouble());
            }
            if (name == null && o.has("layout")) name = o.get("layout").getAsString();
            if (o.has("peak_bytes_by_device")) keepLargest(peaks, o.getAsJsonArray("peak_bytes_by_device").asList());
        }
        if (steps.isEmpty()) throw new UserError("metrics file " + file + " has no steps; give a file written by train --metrics-out");
        if (name == null) name = file.getFileName().toString().replaceFirst("\\.jsonl?$", "");
        return new MetricsRun(name, unbox(steps), unbox(losses), unbox(valSteps), unbox(valLosses), peaks);
    }

    private static void keepLargest(List<Map<String, Long>> peaks, List<JsonElement> devices) {
        for (int d = 0; d < devices.size(); d++) {
            if (peaks.size() <= d) peaks.add(new LinkedHashMap<>());
            Map<String, Long> kept = peaks.get(d);
            for (var e : devices.get(d).getAsJsonObject().entrySet()) kept.merge(e.getKey(), e.getValue().getAsLong(), Math::max);
        }
    }

    private static double[] unbox(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).toArray();
    }

    /** The same run under another name (two files of one layout get their file names added). */
    public MetricsRun named(String newName) {
        return new MetricsRun(newName, steps, losses, valSteps, valLosses, peakByDevice);
    }
}
