package fourfold.devices.mpi;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Addressing the members of a group over MPI when processes host several devices. */
class MemberAddressesTest {
    private static final int OPEN_MPI_TAG_UB = Integer.MAX_VALUE;

    @Test
    void withOneMemberPerProcessRanksAndTagsAreThePlainOnes() {
        // dp group {1, 3, 5, 7} of an 8-device mesh, one device per process: process = rank.
        MemberAddresses a = new MemberAddresses("dp", new int[] {1, 3, 5, 7}, 1, OPEN_MPI_TAG_UB);
        for (int m = 0; m < 4; m++) assertEquals(m, a.rank(m), "communicator rank of member " + m);
        assertEquals(7, a.pointToPointTag(7, 0, 1), "user tag unchanged");
        assertEquals(5, a.collectiveTag(5, 2, 3), "collective tag = call number");
        assertEquals(0, a.collectiveTag(Mpi.TAG_LIMIT + 1, 2, 3), "call numbers wrap inside [0, 32767]");
    }

    @Test
    void oneMemberPerProcessAcrossBlocksOfDevices() {
        // dp group {0, 2} with two devices per process: members on processes 0 and 1.
        MemberAddresses a = new MemberAddresses("dp", new int[] {0, 2}, 2, OPEN_MPI_TAG_UB);
        assertEquals(0, a.rank(0));
        assertEquals(1, a.rank(1));
        assertEquals(9, a.pointToPointTag(9, 1, 0), "no member in the tag when each process hosts one member");
    }

    @Test
    void severalMembersPerProcessGetOneTagPerSenderAndReceiver() {
        // dp group {0, 1, 2, 3} with two devices per process: processes 0, 0, 1, 1.
        int[] members = {0, 1, 2, 3};
        MemberAddresses a = new MemberAddresses("dp", members, 2, OPEN_MPI_TAG_UB);
        assertEquals(0, a.rank(1));
        assertEquals(1, a.rank(2));
        Set<Integer> collective = new HashSet<>(), p2p = new HashSet<>();
        for (int seq = 0; seq < 3; seq++) {
            for (int from = 0; from < 4; from++) {
                for (int to = 0; to < 4; to++) {
                    int t = a.collectiveTag(seq, from, to);
                    assertTrue(t >= 0 && collective.add(t), "collective tag " + t + " of call " + seq + " " + from + "->" + to + " is unique and >= 0");
                    int u = a.pointToPointTag(Mpi.TAG_LIMIT - seq, from, to);
                    assertTrue(u >= 0 && p2p.add(u), "point-to-point tag " + u + " is unique and >= 0");
                }
            }
        }
    }

    @Test
    void anMpiWithTooFewTagsIsRefusedWithAReason() {
        MpiException e = assertThrows(MpiException.class, () -> new MemberAddresses("dp×pp", new int[] {0, 1, 2, 3}, 2, Mpi.TAG_LIMIT));
        assertTrue(e.getMessage().contains("MPI_TAG_UB") && e.getMessage().contains("--devices-per-process"), e.getMessage());
    }
}
