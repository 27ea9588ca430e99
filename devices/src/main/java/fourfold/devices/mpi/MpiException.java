package fourfold.devices.mpi;

/** An MPI call failed, or Open MPI cannot be used here (not installed, no MPI_THREAD_MULTIPLE). */
public final class MpiException extends RuntimeException {
    public MpiException(String message) {
        super(message);
    }
}
