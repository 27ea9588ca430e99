package fourfold.devices;

/**
 * Thrown when a device arena cannot satisfy a request, with the numbers a CUDA OOM message gives:
 * device, request, in use, peak, capacity and the largest live blocks.
 */
public final class DeviceOutOfMemoryError extends RuntimeException {
    private final int device;
    private final long requested;

    public DeviceOutOfMemoryError(int device, long requested, String message) {
        super(message);
        this.device = device;
        this.requested = requested;
    }

    public int device() {
        return device;
    }

    public long requested() {
        return requested;
    }
}
