package fourfold.it.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** `train --backend`: the mistakes a user can make without mpirun, each one line and exit 2. */
class CliBackendTest {
    @Test
    void anUnknownBackendIsRefused() {
        String line = Cli.train("--backend", "nccl").requireOneLineError(2);
        assertTrue(line.contains("unknown --backend 'nccl'") && line.contains("mpi"), line);
    }

    @Test
    void mpiWithSeveralDevicesButNoMpirunSaysHowToStartIt() {
        String line = Cli.train("--backend", "mpi", "--dp", "2").requireOneLineError(2);
        assertTrue(line.contains("mpirun -np 2"), line);
    }

    @Test
    void kernelTimesAreRefusedUnderMpi() {
        String line = Cli.train("--backend", "mpi", "--kernel-times").requireOneLineError(2);
        assertTrue(line.contains("--kernel-times") && line.contains("--backend mpi"), line);
    }

    @Test
    void devicesPerProcessNeedsTheMpiBackend() {
        String line = Cli.train("--devices-per-process", "2", "--dp", "2").requireOneLineError(2);
        assertTrue(line.contains("--devices-per-process") && line.contains("--backend mpi"), line);
    }

    @Test
    void devicesPerProcessMustDivideTheLayout() {
        String line = Cli.train("--backend", "mpi", "--dp", "4", "--devices-per-process", "3").requireOneLineError(2);
        assertTrue(line.contains("does not divide") && line.contains("4 devices"), line);
    }

    @Test
    void severalDevicesPerProcessWithoutMpirunSaysHowManyProcessesToStart() {
        String line = Cli.train("--backend", "mpi", "--dp", "4", "--devices-per-process", "2").requireOneLineError(2);
        assertTrue(line.contains("mpirun -np 2") && line.contains("--devices-per-process 2"), line);
    }
}
