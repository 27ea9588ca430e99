package fourfold.it.mpi;

import fourfold.devices.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The MPI process group against the in-process one, collective by collective, on 3 processes: bitwise equal. */
class MpiCollectivesTest {
    @Test
    void everyCollectiveOverMpiEqualsTheInProcessOneBitwise(@TempDir Path tmp) throws IOException {
        MpiJob.requireMpirun();
        List<List<String>> expected;
        try (Cluster cluster = new Cluster(CollectivesProbe.MESH, CollectivesProbe.CONFIG)) {
            expected = cluster.run(CollectivesProbe::program);
        }
        MpiJob.Result r = MpiJob.run(3, CollectivesProbe.class.getName(), List.of(tmp.toString()), tmp.resolve("probe.log"), Duration.ofMinutes(5));
        assertEquals(0, r.code(), () -> "mpirun -np 3 CollectivesProbe failed:\n" + r.output());
        for (int rank = 0; rank < 3; rank++) {
            List<String> got = Files.readAllLines(tmp.resolve("rank-" + rank + ".txt"));
            assertEquals(expected.get(rank).size(), got.size(), "lines of rank " + rank);
            for (int k = 0; k < got.size(); k++) {
                assertEquals(expected.get(rank).get(k), got.get(k), "rank " + rank + ", in process (expected) against MPI");
            }
        }
    }
}
