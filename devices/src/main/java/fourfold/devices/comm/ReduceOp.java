package fourfold.devices.comm;

/** How all-reduce and reduce-scatter combine the members' values. AVG is the SUM divided by the group size. */
public enum ReduceOp {
    SUM, AVG, MAX
}
