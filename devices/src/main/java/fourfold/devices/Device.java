package fourfold.devices;

/**
 * One simulated GPU: an index, its own team of worker threads (intra-op parallelism, like the
 * SMs of a GPU: the thread that launches a kernel plus helpers, see {@link WorkerTeam}), its
 * fixed-size memory and its simulated clock.
 */
public final class Device implements AutoCloseable {
    private final int index;
    private final int threads;
    private final DeviceMemory memory;
    private final WorkerTeam team;
    private final SimClock clock = new SimClock();
    private volatile ComputeSpec spec;
    private volatile KernelListener kernelListener;
    private volatile KernelTimes kernelTimes;

    /** Receives every kernel's modeled cost (the trace records it as a compute span). */
    public interface KernelListener {
        void kernel(Device device, String name, double start, double seconds, double flops, double bytes);
    }

    /** A body run over a sub-range [start, end) of a parallel loop. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    public Device(int index, long memoryBytes, int threads) {
        this(index, memoryBytes, threads, ComputeSpec.CPU_CORE);
    }

    public Device(int index, long memoryBytes, int threads, ComputeSpec spec) {
        if (threads < 1) throw new IllegalArgumentException("device " + index + ": threads per device must be >= 1, got " + threads);
        this.index = index;
        this.threads = threads;
        this.spec = spec;
        this.memory = new DeviceMemory(index, memoryBytes);
        this.team = new WorkerTeam("gpu" + index + "-worker", threads);
    }

    /** Worker threads for a machine with {@code cores} cores shared by {@code devices} devices: at least 1. */
    public static int defaultThreads(int cores, int devices) {
        return Math.max(1, cores / Math.max(1, devices));
    }

    public int index() {
        return index;
    }

    public int threads() {
        return threads;
    }

    public DeviceMemory memory() {
        return memory;
    }

    public SimClock clock() {
        return clock;
    }

    public ComputeSpec spec() {
        return spec;
    }

    public void setSpec(ComputeSpec spec) {
        this.spec = spec;
    }

    public void setKernelListener(KernelListener listener) {
        this.kernelListener = listener;
    }

    /** Times this device's kernels on the wall clock ({@code null}: stop). */
    public void setKernelTimes(KernelTimes times) {
        this.kernelTimes = times;
    }

    /**
     * Advances the simulated clock by a kernel's modeled cost (roofline of {@link #spec()}). Every
     * kernel calls it once, when it is done.
     */
    public void recordCompute(String kernel, double flops, double bytes) {
        KernelTimes times = kernelTimes;
        if (times != null) times.kernelEnded(kernel, flops, bytes);
        double start = clock.now();
        double seconds = spec.cost(flops, bytes);
        clock.advanceBy(seconds);
        KernelListener l = kernelListener;
        if (l != null) l.kernel(this, kernel, start, seconds, flops, bytes);
    }

    /**
     * Runs {@code body} over [0, n) split into contiguous chunks across this device's workers.
     * With one worker, or a single chunk, the calling thread runs it (no hand-off cost).
     */
    public void parallelFor(int n, int minChunk, RangeBody body) {
        parallelFor(n, minChunk, 1, body);
    }

    /**
     * As {@link #parallelFor(int, int, RangeBody)} with up to {@code chunksPerWorker} chunks per
     * worker, claimed dynamically, so that a worker that starts late or runs slower takes fewer:
     * for loops whose result does not depend on the chunk bounds.
     */
    public void parallelFor(int n, int minChunk, int chunksPerWorker, RangeBody body) {
        KernelTimes times = kernelTimes;
        if (times != null) times.loopStarted();
        if (n <= 0) return;
        int chunks = Math.min(threads * Math.max(1, chunksPerWorker), Math.max(1, n / Math.max(1, minChunk)));
        if (chunks <= 1) {
            body.run(0, n);
            return;
        }
        team.parallelFor(n, chunks, body);
    }

    /** Stops the workers (waiting briefly for them to exit) and releases the memory. */
    @Override
    public void close() {
        team.close();
        memory.close();
    }

    @Override
    public String toString() {
        return "GPU " + index;
    }
}
