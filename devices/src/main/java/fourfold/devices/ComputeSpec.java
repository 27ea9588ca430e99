package fourfold.devices;

/**
 * What one simulated device can do per second: the roofline used by the simulated clock.
 * A kernel costs max(flops / peakFlops, bytes / memoryBandwidth).
 */
public record ComputeSpec(String name, double peakFlops, double memoryBandwidth) {
    /** One core of this kind of machine: 2 AVX-512 FMA units x 16 lanes x 2 x ~3.3 GHz; ~20 GB/s of DRAM per core. */
    public static final ComputeSpec CPU_CORE = new ComputeSpec("cpu-core", 211e9, 20e9);

    public double cost(double flops, double bytes) {
        return Math.max(flops / peakFlops, bytes / memoryBandwidth);
    }
}
