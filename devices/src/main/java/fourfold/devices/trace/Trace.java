package fourfold.devices.trace;

import com.google.gson.stream.JsonWriter;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Chrome trace events (the JSON format chrome://tracing and Perfetto load): {@code ph: "X"} spans,
 * {@code "C"} counters (device memory per tag), {@code "M"} names. One {@code pid} per device, one
 * {@code tid} per {@link Lane}. Timestamps are simulated time by default (the numbers the
 * simulated clock gives, so traces are reproducible), or wall time when asked.
 *
 * <p>Thread-safe: every rank's driver and comm threads add events. A disabled trace ignores them.
 */
public final class Trace {
    /** Which clock the timestamps come from. */
    public enum TimeBase { SIMULATED, WALL }

    private record Event(char ph, String name, int pid, int tid, double tsMicros, double durMicros, Map<String, ?> args) {}

    private static final Trace DISABLED = new Trace(null);

    private final TimeBase timeBase;
    private final long wallOrigin = System.nanoTime();
    private final List<Event> events = new ArrayList<>();
    private final Map<Integer, String> processNames = new LinkedHashMap<>();

    /** A trace that records events with timestamps from {@code timeBase}. */
    public Trace(TimeBase timeBase) {
        this.timeBase = timeBase;
    }

    /** A trace that records nothing (tracing off). */
    public static Trace disabled() {
        return DISABLED;
    }

    public boolean enabled() {
        return timeBase != null;
    }

    public TimeBase timeBase() {
        return timeBase;
    }

    /** Labels a device's row group, e.g. "GPU 3 (dp=0, pp=1, cp=0, tp=1)". */
    public synchronized void nameProcess(int pid, String name) {
        if (enabled()) processNames.put(pid, name);
    }

    /**
     * A span on {@code lane} of device {@code pid}. Both clocks are passed; the trace keeps the one
     * it was built for. Simulated times in seconds, wall times from {@link System#nanoTime()}.
     */
    public void span(int pid, Lane lane, String name, double simStart, double simEnd, long wallStart, long wallEnd, Map<String, ?> args) {
        if (!enabled()) return;
        double ts = timeBase == TimeBase.SIMULATED ? simStart * 1e6 : (wallStart - wallOrigin) / 1e3;
        double dur = timeBase == TimeBase.SIMULATED ? (simEnd - simStart) * 1e6 : (wallEnd - wallStart) / 1e3;
        add(new Event('X', name, pid, lane.tid(), ts, Math.max(0, dur), args));
    }

    /** A counter sample (e.g. memory in use per tag, in MiB) on device {@code pid}. */
    public void counter(int pid, String name, double simTime, long wallTime, Map<String, ? extends Number> values) {
        if (!enabled()) return;
        double ts = timeBase == TimeBase.SIMULATED ? simTime * 1e6 : (wallTime - wallOrigin) / 1e3;
        add(new Event('C', name, pid, 0, ts, 0, values));
    }

    private synchronized void add(Event e) {
        events.add(e);
    }

    /** Number of span and counter events recorded so far. */
    public synchronized int size() {
        return events.size();
    }

    /** Drops the recorded events (process names stay). */
    public synchronized void clear() {
        events.clear();
    }

    /**
     * This trace's process names and events as bytes, for another process to {@link #importEvents}
     * (a cluster spread over processes writes one trace). Argument values keep their kind
     * (integer, floating point, boolean, text), so the written JSON is the same.
     */
    public byte[] exportEvents() {
        List<Event> snapshot;
        Map<Integer, String> names;
        synchronized (this) {
            snapshot = new ArrayList<>(events);
            names = new LinkedHashMap<>(processNames);
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(names.size());
            for (var e : names.entrySet()) {
                out.writeInt(e.getKey());
                out.writeUTF(e.getValue());
            }
            out.writeInt(snapshot.size());
            for (Event e : snapshot) {
                out.writeChar(e.ph());
                out.writeUTF(e.name());
                out.writeInt(e.pid());
                out.writeInt(e.tid());
                out.writeDouble(e.tsMicros());
                out.writeDouble(e.durMicros());
                Map<String, ?> args = e.args() == null ? Map.of() : e.args();
                out.writeInt(args.size());
                for (var a : args.entrySet()) {
                    out.writeUTF(a.getKey());
                    Object v = a.getValue();
                    if (v instanceof Double || v instanceof Float) {
                        out.writeByte('D');
                        out.writeDouble(((Number) v).doubleValue());
                    } else if (v instanceof Number n) {
                        out.writeByte('L');
                        out.writeLong(n.longValue());
                    } else if (v instanceof Boolean b) {
                        out.writeByte('B');
                        out.writeBoolean(b);
                    } else {
                        out.writeByte('S');
                        out.writeUTF(String.valueOf(v));
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** Adds the names and events another process {@linkplain #exportEvents exported}. */
    public void importEvents(byte[] exported) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(exported))) {
            int names = in.readInt();
            for (int k = 0; k < names; k++) nameProcess(in.readInt(), in.readUTF());
            int n = in.readInt();
            for (int k = 0; k < n; k++) {
                char ph = in.readChar();
                String name = in.readUTF();
                int pid = in.readInt();
                int tid = in.readInt();
                double ts = in.readDouble();
                double dur = in.readDouble();
                int argc = in.readInt();
                Map<String, Object> args = new LinkedHashMap<>();
                for (int a = 0; a < argc; a++) {
                    String key = in.readUTF();
                    args.put(key, switch (in.readByte()) {
                        case 'D' -> in.readDouble();
                        case 'L' -> in.readLong();
                        case 'B' -> in.readBoolean();
                        default -> in.readUTF();
                    });
                }
                add(new Event(ph, name, pid, tid, ts, dur, args));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Writes {"traceEvents": [...]} to {@code path} atomically: to a temporary file beside it,
     * then renamed, so a reader never sees half a trace.
     */
    public void write(Path path) throws IOException {
        List<Event> snapshot;
        Map<Integer, String> names;
        synchronized (this) {
            snapshot = new ArrayList<>(events);
            names = new LinkedHashMap<>(processNames);
        }
        // Stable output: by device, lane, time (events of one lane arrive in order anyway).
        snapshot.sort(Comparator.comparingInt(Event::pid).thenComparingInt(Event::tid).thenComparingDouble(Event::tsMicros));
        Path abs = path.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir != null) Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, abs.getFileName().toString(), ".tmp");
        try {
            try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8); JsonWriter json = new JsonWriter(w)) {
                json.beginObject();
                json.name("displayTimeUnit").value("ms");
                json.name("otherData").beginObject().name("clock").value(timeBase == TimeBase.WALL ? "wall" : "simulated").endObject();
                json.name("traceEvents").beginArray();
                for (var e : names.entrySet()) writeNames(json, e.getKey(), e.getValue());
                for (Event e : snapshot) writeEvent(json, e);
                json.endArray();
                json.endObject();
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static void writeNames(JsonWriter json, int pid, String name) throws IOException {
        meta(json, "process_name", pid, -1, "name", name);
        meta(json, "process_sort_index", pid, -1, "sort_index", pid);
        for (Lane lane : Lane.values()) {
            meta(json, "thread_name", pid, lane.tid(), "name", lane.label());
            meta(json, "thread_sort_index", pid, lane.tid(), "sort_index", lane.tid());
        }
    }

    private static void meta(JsonWriter json, String what, int pid, int tid, String key, Object value) throws IOException {
        json.beginObject().name("name").value(what).name("ph").value("M").name("pid").value(pid);
        if (tid >= 0) json.name("tid").value(tid);
        json.name("args").beginObject().name(key);
        if (value instanceof Number n) json.value(n);
        else json.value(String.valueOf(value));
        json.endObject().endObject();
    }

    private static void writeEvent(JsonWriter json, Event e) throws IOException {
        json.beginObject();
        json.name("name").value(e.name());
        json.name("ph").value(String.valueOf(e.ph()));
        json.name("pid").value(e.pid());
        json.name("tid").value(e.tid());
        json.name("ts").value(e.tsMicros());
        if (e.ph() == 'X') json.name("dur").value(e.durMicros());
        if (e.args() != null && !e.args().isEmpty()) {
            json.name("args").beginObject();
            for (var a : e.args().entrySet()) {
                json.name(a.getKey());
                Object v = a.getValue();
                if (v instanceof Number n) json.value(n);
                else if (v instanceof Boolean b) json.value(b);
                else json.value(String.valueOf(v));
            }
            json.endObject();
        }
        json.endObject();
    }
}
