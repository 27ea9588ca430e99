package fourfold.devices;

import fourfold.devices.comm.Interconnect;
import fourfold.devices.trace.Trace;

import java.time.Duration;
import java.util.Objects;

/**
 * How a {@link Cluster} is built.
 *
 * @param memoryPerDevice   bytes of each device's arena
 * @param threadsPerDevice  worker threads per device; 0 = the host's cores divided by the devices (at least 1)
 * @param profile           the hardware the simulated clock imitates
 * @param collectiveTimeout longest any single wait may last before it fails naming the missing ranks
 * @param trace             null = no trace; otherwise the clock the trace's timestamps come from
 * @param sliceBytes        how much a collective moves per hand-off between two members (data path only; the clock does not depend on it)
 */
public record ClusterConfig(long memoryPerDevice, int threadsPerDevice, HardwareProfile profile, Duration collectiveTimeout,
                            Trace.TimeBase trace, long sliceBytes) {
    public ClusterConfig {
        Objects.requireNonNull(profile, "profile");
        Objects.requireNonNull(collectiveTimeout, "collectiveTimeout");
        if (memoryPerDevice <= 0) throw new IllegalArgumentException("memory per device must be positive, got " + memoryPerDevice);
        if (threadsPerDevice < 0) throw new IllegalArgumentException("threads per device must be >= 0 (0 = automatic), got " + threadsPerDevice);
        if (collectiveTimeout.isNegative() || collectiveTimeout.isZero()) {
            throw new IllegalArgumentException("collective timeout must be positive, got " + collectiveTimeout);
        }
        if (sliceBytes < Float.BYTES) throw new IllegalArgumentException("slice must be at least 4 bytes, got " + sliceBytes);
    }

    /** 256 MiB per device, automatic threads, cpu-local, 10 minute timeout (generous: a pipeline peer may compute for long), no trace. */
    public static ClusterConfig defaults() {
        return new ClusterConfig(256L << 20, 0, HardwareProfile.CPU_LOCAL, Duration.ofMinutes(10), null, Interconnect.DEFAULT_SLICE_BYTES);
    }

    public ClusterConfig withMemoryPerDevice(long bytes) {
        return new ClusterConfig(bytes, threadsPerDevice, profile, collectiveTimeout, trace, sliceBytes);
    }

    public ClusterConfig withThreadsPerDevice(int threads) {
        return new ClusterConfig(memoryPerDevice, threads, profile, collectiveTimeout, trace, sliceBytes);
    }

    public ClusterConfig withProfile(HardwareProfile p) {
        return new ClusterConfig(memoryPerDevice, threadsPerDevice, p, collectiveTimeout, trace, sliceBytes);
    }

    public ClusterConfig withCollectiveTimeout(Duration timeout) {
        return new ClusterConfig(memoryPerDevice, threadsPerDevice, profile, timeout, trace, sliceBytes);
    }

    /** Turns the trace on in simulated time (true) or off (false). */
    public ClusterConfig withTrace(boolean on) {
        return withTrace(on ? Trace.TimeBase.SIMULATED : null);
    }

    public ClusterConfig withTrace(Trace.TimeBase timeBase) {
        return new ClusterConfig(memoryPerDevice, threadsPerDevice, profile, collectiveTimeout, timeBase, sliceBytes);
    }

    public ClusterConfig withSliceBytes(long bytes) {
        return new ClusterConfig(memoryPerDevice, threadsPerDevice, profile, collectiveTimeout, trace, bytes);
    }
}
