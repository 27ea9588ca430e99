package fourfold.devices;

/** What a block of device memory holds; peak memory is reported per tag, as the ZeRO formulas count it. */
public enum MemoryTag {
    PARAMS, GRADS, OPTIMIZER, ACTIVATIONS, COMM;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
