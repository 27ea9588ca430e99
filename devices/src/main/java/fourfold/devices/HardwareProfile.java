package fourfold.devices;

import java.util.List;

/**
 * A named machine the simulated clock imitates: what one device computes per second, how many
 * devices share a node, and the links inside and between nodes.
 *
 * @param compute        roofline of one device, or of one core when {@code perCore}
 * @param perCore        true when a device's compute scales with its worker threads (cpu-local)
 * @param devicesPerNode ranks {@code [k*devicesPerNode, (k+1)*devicesPerNode)} share node k
 */
public record HardwareProfile(String name, String description, ComputeSpec compute, boolean perCore,
                              int devicesPerNode, LinkSpec intraNode, LinkSpec interNode) {

    /**
     * 8x H100 SXM5 per node (DGX H100 / HGX H100), NVLink 4 through NVSwitch inside a node, one
     * 400 Gb/s InfiniBand NIC per GPU between nodes (Llama 3's training clusters look like this).
     *
     * <ul>
     * <li>Compute: 494.7 TFLOP/s = H100 SXM5 TF32 Tensor Core, dense (NVIDIA H100 datasheet lists
     *   989 TFLOP/s "with sparsity"; BF16 is 989 dense, FP32 without tensor cores 67). We run the
     *   math in fp32 and move fp32 bytes, so we model an fp32 run as PyTorch / Megatron run it on
     *   H100: fp32 storage and communication, matmuls on TF32 tensor cores. Choosing BF16's 989
     *   with our 4-byte elements would double the weight of communication against compute.</li>
     * <li>Memory bandwidth: 3.35 TB/s HBM3 (H100 SXM5 datasheet).</li>
     * <li>NVLink: 900 GB/s bidirectional per GPU (datasheet) = 450 GB/s per direction; latency
     *   3.4 us per ring step (NCCL's tuning model, src/graph/tuning.cc, hwLat NVLINK Ring/Simple).</li>
     * <li>InfiniBand: ConnectX-7 NDR 400 Gb/s per GPU = 50 GB/s per direction; latency 9.6 us per
     *   ring step (same NCCL table, NET Ring/Simple).</li>
     * </ul>
     */
    public static final HardwareProfile H100_NVLINK_IB = new HardwareProfile(
            "h100-nvlink-ib",
            "8x H100 SXM5 per node, NVLink 4 (450 GB/s per direction) inside, 400 Gb/s InfiniBand per GPU between nodes; fp32 math on TF32 tensor cores",
            new ComputeSpec("h100-sxm5-tf32", 494.7e12, 3.35e12), false, 8,
            new LinkSpec("nvlink", 3.4e-6, 450e9),
            new LinkSpec("infiniband", 9.6e-6, 50e9));

    /**
     * This machine: devices are teams of worker threads on the CPU cores of one host, links are memcpy between
     * their arenas. Compute per core from BUILD-NOTES.md (2 AVX-512 FMA units x 16 lanes x 2 x
     * ~3.3 GHz = 211 GFLOP/s; ~20 GB/s DRAM per core). Link: 6 GB/s = one thread's
     * MemorySegment.copy of 64 MiB on this 2-vCPU VM when it was quiet (2-8 GB/s measured, see
     * docs/bench-collectives.md); 5 us = half the ~8 us wait/notify round trip between two threads
     * measured here, i.e. one hand-off per ring step.
     */
    public static final HardwareProfile CPU_LOCAL = new HardwareProfile(
            "cpu-local",
            "simulated devices on the CPU cores of this host; links are memcpy between arenas",
            ComputeSpec.CPU_CORE, true, Integer.MAX_VALUE,
            new LinkSpec("memcpy", 5e-6, 6e9),
            new LinkSpec("memcpy", 5e-6, 6e9));

    public HardwareProfile {
        if (devicesPerNode < 1) throw new IllegalArgumentException("profile " + name + ": devicesPerNode must be >= 1, got " + devicesPerNode);
    }

    public static List<HardwareProfile> all() {
        return List.of(H100_NVLINK_IB, CPU_LOCAL);
    }

    /** The profile called {@code name}; the error lists the known names. */
    public static HardwareProfile named(String name) {
        for (HardwareProfile p : all()) if (p.name.equals(name)) return p;
        throw new IllegalArgumentException("unknown hardware profile '" + name + "'; known profiles: "
                + all().stream().map(HardwareProfile::name).toList());
    }

    /** The roofline of one device with {@code threads} worker threads. */
    public ComputeSpec computeSpec(int threads) {
        if (!perCore) return compute;
        return new ComputeSpec(compute.name() + " x" + threads, compute.peakFlops() * threads, compute.memoryBandwidth() * threads);
    }

    /** The same machine with a different node size (what-if studies, tests across nodes). */
    public HardwareProfile withDevicesPerNode(int n) {
        return new HardwareProfile(name, description, compute, perCore, n, intraNode, interNode);
    }
}
