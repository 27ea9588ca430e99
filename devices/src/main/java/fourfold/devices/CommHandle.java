package fourfold.devices;

/** TEMPORARY contract stub. */
public interface CommHandle {
    void await();
}
