package fourfold.devices.comm;

/** TEMPORARY contract stub. */
public enum ReduceOp { SUM, AVG, MAX }
