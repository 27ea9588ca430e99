package fourfold.devices.trace;

import fourfold.devices.Device;

import java.util.Map;

/**
 * One rank's handle on the trace, for the engine's own spans:
 * <pre>{@code try (var s = rank.trace().span("forward layer 3")) { ... } }</pre>
 * A span runs from the device's simulated time (or wall time) at open to the one at close. With
 * tracing off, spans cost one branch.
 */
public final class Tracer {
    private final Trace trace;
    private final Device device;
    private final int pid;

    public Tracer(Trace trace, Device device, int pid) {
        this.trace = trace;
        this.device = device;
        this.pid = pid;
    }

    public boolean enabled() {
        return trace.enabled();
    }

    public Trace trace() {
        return trace;
    }

    /** Opens a span on the compute lane; close it (try-with-resources) where the work ends. */
    public Span span(String name) {
        return span(name, Lane.COMPUTE);
    }

    public Span span(String name, Lane lane) {
        if (!trace.enabled()) return Span.NOOP;
        return new Span(this, name, lane, device.clock().now(), System.nanoTime());
    }

    /** A span with explicit simulated times (seconds), e.g. computed by a schedule. */
    public void span(String name, Lane lane, double simStart, double simEnd, Map<String, ?> args) {
        long now = System.nanoTime();
        trace.span(pid, lane, name, simStart, simEnd, now, now, args);
    }

    /** An open span. */
    public static final class Span implements AutoCloseable {
        static final Span NOOP = new Span(null, null, null, 0, 0);
        private final Tracer owner;
        private final String name;
        private final Lane lane;
        private final double simStart;
        private final long wallStart;
        private boolean closed;

        private Span(Tracer owner, String name, Lane lane, double simStart, long wallStart) {
            this.owner = owner;
            this.name = name;
            this.lane = lane;
            this.simStart = simStart;
            this.wallStart = wallStart;
        }

        @Override
        public void close() {
            if (owner == null || closed) return;
            closed = true;
            owner.trace.span(owner.pid, lane, name, simStart, owner.device.clock().now(), wallStart, System.nanoTime(), null);
        }
    }
}
