package fourfold.devices.comm;

/** What a member asked for; every member of one collective must ask for the same. */
record OpDesc(CommKind kind, long count, ReduceOp op, int root) {
    String describe() {
        return switch (kind) {
            case ALL_REDUCE, REDUCE_SCATTER -> kind.label() + " of " + count + " floats (" + op + ")";
            case ALL_GATHER -> kind.label() + " into " + count + " floats";
            case BROADCAST -> kind.label() + " of " + count + " floats from group rank " + root;
            case ALL_TO_ALL -> kind.label() + " of " + count + " floats";
            default -> kind.label();
        };
    }
}
