package fourfold.devices;

/** TEMPORARY contract stub. */
public enum ReduceOp { SUM, AVG, MAX }
