package fourfold.cli;

import fourfold.devices.Hosting;
import fourfold.devices.mpi.MpiException;
import fourfold.devices.mpi.MpiHosting;
import fourfold.engine.UserError;

import java.util.Locale;

/**
 * {@code --backend mpi}: this process is one rank of a job that {@code mpirun} started, one
 * process per simulated device. Only the process of rank 0 reports (progress, metrics, messages);
 * every process checks the command line the same way, so a mistake is reported once, by rank 0.
 */
final class MpiLaunch {
    private MpiLaunch() {}

    /** Whether {@code --backend} asks for MPI; a clear error for an unknown backend. */
    static boolean requested(String backend) {
        return switch (backend.toLowerCase(Locale.ROOT)) {
            case "in-process" -> false;
            case "mpi" -> true;
            default -> throw new UserError("unknown --backend '" + backend + "'; use in-process (the default) or mpi (under mpirun)");
        };
    }

    /** This process's MPI world rank as mpirun announced it (0 when not under mpirun), known before MPI starts. */
    static int worldRank() {
        try {
            return Integer.parseInt(System.getenv().getOrDefault("OMPI_COMM_WORLD_RANK", "0"));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Starts MPI for a mesh of {@code devices} ranks, or says what is wrong. */
    static MpiHosting start(int devices) {
        if (!MpiHosting.underMpirun() && devices > 1) {
            throw new UserError("--backend mpi runs one process per device: start it with mpirun -np " + devices + " ./fourfold train --backend mpi ...");
        }
        MpiHosting hosting;
        try {
            hosting = MpiHosting.start();
        } catch (MpiException e) {
            throw new UserError("--backend mpi: " + e.getMessage());
        }
        if (hosting.worldSize() != devices) {
            throw new UserError("the layout has " + devices + " device(s) but mpirun started " + hosting.worldSize()
                    + " process(es); --backend mpi runs one process per device: mpirun -np " + devices + " ...");
        }
        return hosting;
    }

    static Hosting inProcess() {
        return Hosting.IN_PROCESS;
    }
}
