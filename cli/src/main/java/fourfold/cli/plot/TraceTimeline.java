package fourfold.cli.plot;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import fourfold.engine.UserError;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * What each device did during one training step, read from a `train --trace` file (Chrome trace
 * events in simulated time). The step is the compute-lane span named "step N" on each device.
 * Events are read by name, not by a fixed list: compute spans named F, B, W or BW (alone or
 * followed by a space or digit: a pipeline schedule's actions) are those actions, other compute
 * spans (kernels) are plain compute, spans on the communication lanes are comm.
 *
 * @param start first device's step start, in microseconds of the trace
 * @param end   last device's step end
 */
public record TraceTimeline(int step, double start, double end, List<Device> devices) {
    /** What a span was doing; {@link #kind} reads it from the span's name and lane. */
    public enum Kind { COMPUTE, F, B, W, COMM }

    public record Span(Kind kind, double start, double end) {}

    /** One device's row: its name (mesh coordinates) and its spans within the step, compute lane first. */
    public record Device(int pid, String name, double start, double end, List<Span> spans) {}

    private static final Pattern ACTION = Pattern.compile("(BW|F|B|W)(?:[\\s\\d].*)?");
    private static final int COMPUTE_LANE = 0;

    public static TraceTimeline read(Path file, int step) {
        JsonObject root;
        try (Reader r = Files.newBufferedReader(file)) {
            root = JsonParser.parseReader(r).getAsJsonObject();
        } catch (IOException e) {
            throw new UserError("cannot read --trace " + file + " (" + e.getMessage() + "); give a file written by train --trace");
        } catch (JsonParseException | IllegalStateException e) {
            throw new UserError("--trace " + file + " is not a Chrome trace (JSON object with traceEvents); give a file written by train --trace");
        }
        if (!root.has("traceEvents")) throw new UserError("--trace " + file + " has no traceEvents; give a file written by train --trace");
        List<JsonObject> events = root.getAsJsonArray("traceEvents").asList().stream().map(JsonElement::getAsJsonObject).toList();
        Map<Integer, String> names = new TreeMap<>();
        Map<Integer, double[]> windows = new TreeMap<>();
        TreeSet<Integer> stepsSeen = new TreeSet<>();
        String stepName = "step " + step;
        for (JsonObject e : events) {
            String ph = e.get("ph").getAsString(), name = e.has("name") ? e.get("name").getAsString() : "";
            int pid = e.get("pid").getAsInt();
            if (ph.equals("M") && name.equals("process_name")) names.put(pid, e.getAsJsonObject("args").get("name").getAsString());
            if (!ph.equals("X") || e.get("tid").getAsInt() != COMPUTE_LANE || !name.startsWith("step ")) continue;
            try {
                stepsSeen.add(Integer.parseInt(name.substring(5)));
            } catch (NumberFormatException ignored) {
                continue; // another span that happens to start with "step "
            }
            if (name.equals(stepName)) windows.put(pid, new double[]{ts(e), ts(e) + e.get("dur").getAsDouble()});
        }
        if (windows.isEmpty()) {
            throw new UserError("--trace " + file + " has no span '" + stepName + "'; "
                    + (stepsSeen.isEmpty() ? "it has no step spans at all (write it with this version's train --trace)"
                    : "its steps are " + stepsSeen.first() + ".." + stepsSeen.last() + "; choose --step among them"));
        }
        Map<Integer, List<Span>> spans = new TreeMap<>();
        for (JsonObject e : events) {
            if (!e.get("ph").getAsString().equals("X")) continue;
            int pid = e.get("pid").getAsInt();
            double[] w = windows.get(pid);
            String name = e.get("name").getAsString();
            if (w == null || name.startsWith("step ")) continue;
            double s = Math.max(w[0], ts(e)), t = Math.min(w[1], ts(e) + e.get("dur").getAsDouble());
            if (t <= s) continue;
            spans.computeIfAbsent(pid, k -> new ArrayList<>()).add(new Span(kind(name, e.get("tid").getAsInt()), s, t));
        }
        List<Device> devices = new ArrayList<>();
        double start = Double.MAX_VALUE, end = -Double.MAX_VALUE;
        for (var w : windows.entrySet()) {
            int pid = w.getKey();
            devices.add(new Device(pid, names.getOrDefault(pid, "device " + pid), w.getValue()[0], w.getValue()[1], spans.getOrDefault(pid, List.of())));
            start = Math.min(start, w.getValue()[0]);
            end = Math.max(end, w.getValue()[1]);
        }
        return new TraceTimeline(step, start, end, devices);
    }

    private static double ts(JsonObject e) {
        return e.get("ts").getAsDouble();
    }

    public static Kind kind(String name, int tid) {
        if (tid != COMPUTE_LANE) return Kind.COMM;
        var m = ACTION.matcher(name);
        if (!m.matches()) return Kind.COMPUTE;
        return switch (m.group(1)) {
            case "F" -> Kind.F;
            case "W" -> Kind.W;
            default -> Kind.B; // B, and BW (input and weight gradients in one action)
        };
    }
}
