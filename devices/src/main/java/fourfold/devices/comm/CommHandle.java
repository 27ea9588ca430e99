package fourfold.devices.comm;

/** TEMPORARY contract stub. */
public interface CommHandle {
    void await();
}
