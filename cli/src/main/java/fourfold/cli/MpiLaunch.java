package fourfold.cli;

import fourfold.devices.Hosting;
import fourfold.devices.mpi.MpiException;
import fourfold.devices.mpi.MpiHosting;
import fourfold.engine.UserError;

import java.util.Locale;

/**
 * {@code --backend mpi}: this process is one rank of a job that {@code mpirun} started, hosting
 * one simulated device or {@code --devices-per-process} of them. Only the process of rank 0 reports (progress, metrics, messages);
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

    /** Starts MPI for a mesh of {@code devices} ranks, {@code devicesPerProcess} in each process, or says what is wrong. */
    static MpiHosting start(int devices, int devicesPerProcess) {
        if (devices % devicesPerProcess != 0) throw new UserError(MpiHosting.processesHint(devices, devicesPerProcess));
        if (!MpiHosting.underMpirun() && devices > devicesPerProcess) {
            throw new UserError("--backend mpi runs under mpirun: " + MpiHosting.processesHint(devices, devicesPerProcess)
                    + ", e.g. mpirun -np " + devices / devicesPerProcess + " ./fourfold train --backend mpi ...");
        }
        MpiHosting hosting;
        try {
            hosting = MpiHosting.start(devicesPerProcess);
        } catch (MpiException e) {
            throw new UserError("--backend mpi: " + e.getMessage());
        }
        if ((long) hosting.worldSize() * devicesPerProcess != devices) {
            throw new UserError("the layout has " + devices + " device(s) but mpirun started " + hosting.worldSize() + " process(es) of "
                    + devicesPerProcess + " device(s) each; " + MpiHosting.processesHint(devices, devicesPerProcess));
        }
        return hosting;
    }

    static Hosting inProcess() {
        return Hosting.IN_PROCESS;
    }
}
