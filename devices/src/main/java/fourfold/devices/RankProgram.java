package fourfold.devices;

/** What every rank runs in {@link Cluster#run}: one SPMD program, as one process per GPU under torchrun. */
@FunctionalInterface
public interface RankProgram<T> {
    T run(Rank rank) throws Exception;
}
