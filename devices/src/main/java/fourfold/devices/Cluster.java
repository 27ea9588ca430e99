package fourfold.devices;

import fourfold.devices.comm.CommStats;
import fourfold.devices.comm.Network;
import fourfold.devices.comm.RunControl;
import fourfold.devices.trace.Lane;
import fourfold.devices.trace.Trace;
import fourfold.devices.trace.Tracer;

import java.io.IOException;
import java.nio.file.Path;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * N simulated devices on a {@link Mesh} and an SPMD launcher: {@link #run} starts one driver
 * thread per rank, as torchrun starts one process per GPU. The first exception on any rank aborts
 * the others (their blocked collectives throw {@link ClusterAbortedException}) and {@code run}
 * throws one {@link ClusterException} naming that rank, after every rank thread has stopped.
 * Every wait inside a collective has a timeout, so no run hangs on a missing rank.
 *
 * <pre>{@code
 * try (Cluster cluster = new Cluster(new Mesh(2, 1, 1, 2), ClusterConfig.defaults())) {
 *     List<Float> out = cluster.run(rank -> {
 *         ProcessGroup tp = rank.group(Axis.TP);
 *         ...
 *     });
 * }
 * }</pre>
 *
 * The cluster owns its devices and can run several programs one after another; runs do not nest.
 */
public final class Cluster implements AutoCloseable {
    private final Mesh mesh;
    private final ClusterConfig config;
    private final Topology topology;
    private final List<Device> devices;
    private final CommStats stats = new CommStats();
    private final Trace trace;
    private final Hosting hosting;
    private final Network net;
    private final Rank[] ranks;
    private final AtomicBoolean running = new AtomicBoolean();
    private volatile boolean closed;
    /** Set when a failed run left rank threads that would not stop: their memory must not be released under them. */
    private volatile String stuck;

    public Cluster(Mesh mesh, ClusterConfig config) {
        this(mesh, config, Hosting.IN_PROCESS);
    }

    /** A cluster whose process hosts the ranks {@code hosting} names (devices, driver threads); the others live elsewhere. */
    public Cluster(Mesh mesh, ClusterConfig config, Hosting hosting) {
        this.mesh = Objects.requireNonNull(mesh, "mesh");
        this.config = Objects.requireNonNull(config, "config");
        this.hosting = Objects.requireNonNull(hosting, "hosting");
        int n = mesh.size();
        this.topology = new Topology(config.profile(), n);
        int hosted = 0;
        for (int r = 0; r < n; r++) if (hosting.hosts(r)) hosted++;
        int threads = config.threadsPerDevice() == 0
                ? Device.defaultThreads(Runtime.getRuntime().availableProcessors(), hosted) : config.threadsPerDevice();
        List<Device> ds = new ArrayList<>(n);
        try {
            for (int r = 0; r < n; r++) {
                ds.add(hosting.hosts(r) ? new Device(r, config.memoryPerDevice(), threads, config.profile().computeSpec(threads)) : null);
            }
        } catch (RuntimeException | Error e) {
            for (Device d : ds) if (d != null) d.close();
            throw e;
        }
        this.devices = Collections.unmodifiableList(ds);
        this.trace = config.trace() == null ? Trace.disabled() : new Trace(config.trace());
        this.net = hosting.network(mesh, devices, topology, stats, trace, config.sliceBytes());
        this.ranks = new Rank[n];
        for (int r = 0; r < n; r++) {
            Device d = devices.get(r);
            if (d == null) continue;
            ranks[r] = new Rank(r, mesh, d, net, stats, new Tracer(trace, d, r));
            if (trace.enabled()) attachTrace(r, d);
        }
    }

    /** Names the device's rows, and records its kernels and memory counters. */
    private void attachTrace(int r, Device d) {
        trace.nameProcess(r, "GPU " + r + " (" + mesh.coords(r) + ")");
        if (trace.timeBase() == Trace.TimeBase.SIMULATED) { // kernels report simulated costs only
            d.setKernelListener((dev, name, start, seconds, flops, bytes) ->
                    trace.span(r, Lane.COMPUTE, name, start, start + seconds, 0, 0, Map.of("flops", flops, "bytes", bytes)));
        }
        d.memory().setListener(m -> {
            Map<String, Double> mib = new LinkedHashMap<>();
            for (MemoryTag t : MemoryTag.values()) mib.put(t.label(), m.inUse(t) / 1048576.0);
            trace.counter(r, "memory MiB", d.clock().now(), System.nanoTime(), mib);
        });
    }

    /**
     * Runs {@code program} on every rank, one driver thread each, and returns the per-rank results
     * in rank order (nulls allowed). Async collectives a program leaves un-awaited are finished
     * before its rank counts as done.
     *
     * @throws ClusterException naming the first rank that failed, its exception as the cause
     */
    public <T> List<T> run(RankProgram<T> program) {
        Objects.requireNonNull(program, "program");
        if (closed) throw new IllegalStateException("cluster is closed");
        if (stuck != null) throw new IllegalStateException("cluster is unusable: " + stuck);
        if (!running.compareAndSet(false, true)) throw new IllegalStateException("Cluster.run is already running; runs do not nest");
        try {
            return runOnce(program);
        } finally {
            running.set(false);
        }
    }

    @SuppressWarnings("unchecked")
    private <T> List<T> runOnce(RankProgram<T> program) {
        int n = mesh.size();
        RunControl control = new RunControl(config.collectiveTimeout().toNanos());
        Object[] results = new Object[n];
        Throwable[] errors = new Throwable[n];
        net.beginRun(control);
        Thread[] threads = new Thread[n];
        for (int r = 0; r < n; r++) {
            int rank = r;
            if (ranks[r] == null) continue; // hosted by another process
            threads[r] = Thread.ofPlatform().name("fourfold-rank-" + r).daemon(true).unstarted(() -> {
                try {
                    results[rank] = program.run(ranks[rank]);
                    net.drain(rank);
                } catch (Throwable t) {
                    errors[rank] = t;
                    control.fail(rank, t);
                }
            });
        }
        for (Thread t : threads) if (t != null) t.start();
        boolean interrupted = joinAll(threads, control);
        if (stuck == null) {
            try {
                net.endRun();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        if (stuck != null) throw new IllegalStateException("cluster run did not stop: " + stuck, control.failure() == null ? null : control.failure().cause());
        RunControl.Failure f = control.failure();
        if (f != null) throw failure(f, errors);
        return Collections.unmodifiableList(Arrays.asList((T[]) results));
    }

    /**
     * Waits for every rank thread. After an abort, ranks blocked in collectives leave within
     * milliseconds; a rank busy in its own code gets the collective timeout to reach its next
     * wait, then an interrupt, then is reported stuck. Returns whether this thread was interrupted.
     */
    private boolean joinAll(Thread[] threads, RunControl control) {
        boolean interrupted = false;
        long deadline = 0; // set when the abort is first seen
        boolean interruptsSent = false;
        for (Thread t : threads) {
            while (t != null && t.isAlive()) {
                try {
                    t.join(20);
                } catch (InterruptedException e) {
                    interrupted = true;
                    control.fail(-1, new InterruptedException("Cluster.run was interrupted"));
                }
                if (!control.aborted() || !t.isAlive()) continue;
                long now = System.nanoTime();
                if (deadline == 0) deadline = now + config.collectiveTimeout().toNanos();
                if (now < deadline) continue;
                if (!interruptsSent) {
                    for (Thread u : threads) if (u != null && u.isAlive()) u.interrupt();
                    interruptsSent = true;
                    deadline = now + 5_000_000_000L;
                } else {
                    List<String> alive = new ArrayList<>();
                    for (Thread u : threads) if (u != null && u.isAlive()) alive.add(u.getName());
                    stuck = "rank threads " + alive + " did not stop after the run was aborted";
                    return interrupted;
                }
            }
        }
        return interrupted;
    }

    private ClusterException failure(RunControl.Failure f, Throwable[] errors) {
        Map<Integer, Throwable> all = new TreeMap<>();
        for (int r = 0; r < errors.length; r++) if (errors[r] != null) all.put(r, errors[r]);
        Throwable cause = f.cause();
        String who = f.rank() >= 0 ? "rank " + f.rank() + " (" + mesh.coords(f.rank()) + ")" : "the run";
        if (f.rank() >= 0) all.put(f.rank(), cause);
        ClusterException ex = new ClusterException(f.rank(),
                who + " failed: " + cause.getClass().getSimpleName() + ": " + cause.getMessage(), cause, all);
        for (var e : all.entrySet()) if (e.getKey() != f.rank() && e.getValue() != cause) ex.addSuppressed(e.getValue());
        return ex;
    }

    public Mesh mesh() {
        return mesh;
    }

    public ClusterConfig config() {
        return config;
    }

    public Topology topology() {
        return topology;
    }

    /** Whether this process hosts {@code rank} (always, unless the cluster spans processes). */
    public boolean hosts(int rank) {
        return ranks[rank] != null;
    }

    /**
     * Whether {@code rank} is the first rank this process hosts: the one that speaks for the
     * process in {@link #maxOverProcesses} and {@link #gatherToRoot}, which are per process.
     */
    public boolean leads(int rank) {
        for (int r = 0; r < rank; r++) if (ranks[r] != null) return false;
        return ranks[rank] != null;
    }

    /** Whether this process hosts every rank (in process), so that every device's figures are at hand. */
    public boolean hostsEveryRank() {
        return !devices.contains(null);
    }

    /** Every process's {@code mine} on the process hosting rank 0 (see {@link Hosting#gatherToRoot}). */
    public List<byte[]> gatherToRoot(byte[] mine) {
        return hosting.gatherToRoot(mine);
    }

    /** Element-wise maximum of {@code values} over every process of the cluster (see {@link Hosting#maxOverProcesses}). */
    public double[] maxOverProcesses(double... values) {
        return hosting.maxOverProcesses(values);
    }

    /**
     * Writes the trace of every rank to {@code path}: in a cluster spread over processes every
     * process calls it, the others send their events and the process hosting rank 0 writes.
     */
    public void writeTrace(Path path) throws IOException {
        hosting.gatherTrace(trace);
        if (hosts(0)) trace.write(path);
    }

    /** The devices, indexed by global rank (null for ranks another process hosts). */
    public List<Device> devices() {
        return devices;
    }

    public Device device(int rank) {
        return devices.get(rank);
    }

    public Rank rank(int rank) {
        return ranks[rank];
    }

    /** Bytes moved per rank, group and kind; reset it to measure a window. */
    public CommStats stats() {
        return stats;
    }

    /** The trace (disabled unless the config turned it on); {@link Trace#write} saves it. */
    public Trace trace() {
        return trace;
    }

    /** Puts every device's simulated clock (both lanes) back to 0. */
    public void resetClocks() {
        for (Device d : devices) if (d != null) d.clock().reset();
    }

    /** Stops the devices' workers and releases their memory. */
    @Override
    public void close() {
        if (closed) return;
        if (running.get()) throw new IllegalStateException("cannot close the cluster while Cluster.run is running");
        closed = true;
        if (stuck != null) return; // stuck threads may still touch device memory: leak it rather than crash the JVM
        for (Device d : devices) if (d != null) d.close();
    }

    @Override
    public String toString() {
        return "cluster " + mesh + " on " + config.profile().name();
    }
}
