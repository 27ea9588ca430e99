package fourfold.devices;

import fourfold.devices.comm.ProcessGroup;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Mesh coordinates (tp fastest-varying) and process groups. Expected groups are written out by
 * hand for a few ranks, and every group of every rank is checked against a brute-force reference:
 * all ranks whose coordinates differ only on the group's axes, in ascending rank order.
 */
class MeshTest {

    @Test
    void coordinatesOfDp2Pp2Cp2Tp2() {
        Mesh m = new Mesh(2, 2, 2, 2);
        assertEquals(16, m.size());
        assertEquals(new Mesh.Coords(0, 0, 0, 0), m.coords(0));
        assertEquals(new Mesh.Coords(0, 0, 0, 1), m.coords(1), "tp varies fastest");
        assertEquals(new Mesh.Coords(0, 0, 1, 0), m.coords(2));
        assertEquals(new Mesh.Coords(0, 1, 0, 1), m.coords(5));
        assertEquals(new Mesh.Coords(1, 0, 0, 0), m.coords(8), "dp varies slowest");
        assertEquals(new Mesh.Coords(1, 1, 1, 1), m.coords(15));
        for (int r = 0; r < m.size(); r++) assertEquals(r, m.rank(m.coords(r)), "rank -> coords -> rank for " + r);
        assertEquals(13, m.rank(1, 1, 0, 1));
    }

    @Test
    void groupsOfDp2Pp2Cp2Tp2() {
        Mesh m = new Mesh(2, 2, 2, 2);
        // rank 5 = (dp=0, pp=1, cp=0, tp=1)
        assertArrayEquals(new int[] {4, 5}, m.members(5, Axis.TP));
        assertArrayEquals(new int[] {5, 7}, m.members(5, Axis.CP));
        assertArrayEquals(new int[] {1, 5}, m.members(5, Axis.PP));
        assertArrayEquals(new int[] {5, 13}, m.members(5, Axis.DP));
        assertArrayEquals(new int[] {5, 7, 13, 15}, m.members(5, Axis.DP, Axis.CP), "gradient reduction group dp×cp");
        assertArrayEquals(new int[] {5, 7, 13, 15}, m.members(5, Axis.CP, Axis.DP), "axis order in the call does not matter");
        assertArrayEquals(new int[] {0, 1, 4, 5}, m.members(5, Axis.PP, Axis.TP));
        assertEquals("dp×cp", Mesh.groupName(Axis.CP, Axis.DP));
        checkAllGroupsAgainstBruteForce(m);
    }

    @Test
    void groupsOfDp4Tp2() {
        Mesh m = new Mesh(4, 1, 1, 2);
        assertEquals(new Mesh.Coords(1, 0, 0, 1), m.coords(3));
        assertArrayEquals(new int[] {2, 3}, m.members(3, Axis.TP));
        assertArrayEquals(new int[] {1, 3, 5, 7}, m.members(3, Axis.DP));
        assertArrayEquals(new int[] {3}, m.members(3, Axis.PP), "an axis of size 1 gives a group of one");
        assertArrayEquals(new int[] {3}, m.members(3, Axis.CP));
        assertArrayEquals(new int[] {1, 3, 5, 7}, m.members(3, Axis.DP, Axis.CP));
        checkAllGroupsAgainstBruteForce(m);
    }

    @Test
    void groupsOfPp8() {
        Mesh m = new Mesh(1, 8, 1, 1);
        for (int r = 0; r < 8; r++) {
            assertEquals(new Mesh.Coords(0, r, 0, 0), m.coords(r));
            assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7}, m.members(r, Axis.PP), "pp group of rank " + r);
            assertArrayEquals(new int[] {r}, m.members(r, Axis.DP, Axis.CP, Axis.TP));
        }
        checkAllGroupsAgainstBruteForce(m);
        Mesh one = new Mesh(1, 1, 1, 1);
        assertArrayEquals(new int[] {0}, one.members(0, Axis.DP, Axis.PP, Axis.CP, Axis.TP), "a 1x1x1x1 mesh is valid");
    }

    @Test
    void rankGroupsHaveTheMeshMembersNamesAndLocalRanks() {
        Mesh m = new Mesh(2, 2, 2, 2);
        try (Cluster c = new Cluster(m, ClusterConfig.defaults().withMemoryPerDevice(1 << 20).withThreadsPerDevice(1))) {
            for (int r = 0; r < m.size(); r++) {
                Rank rank = c.rank(r);
                assertEquals(m.coords(r), rank.coords());
                assertSame(c.device(r), rank.device());
                ProcessGroup g = rank.group(Axis.CP, Axis.DP);
                assertSame(g, rank.group(Axis.DP, Axis.CP), "the same axes give the same group object");
                assertEquals("dp×cp", g.name());
                assertArrayEquals(m.members(r, Axis.DP, Axis.CP), g.globalRanks());
                assertEquals(4, g.size());
                assertEquals(r, g.globalRanks()[g.rank()], "group-local rank is the index in globalRanks");
                assertEquals("tp", rank.group(Axis.TP).name());
            }
        }
    }

    @Test
    void badMeshInputIsRefusedWithAClearMessage() {
        var e = assertThrows(IllegalArgumentException.class, () -> new Mesh(2, 0, 1, 1));
        assertTrue(e.getMessage().contains("pp=0"), e.getMessage());
        Mesh m = new Mesh(2, 1, 1, 2);
        assertThrows(IllegalArgumentException.class, () -> m.coords(4));
        assertThrows(IllegalArgumentException.class, () -> m.rank(0, 0, 0, 2));
        assertThrows(IllegalArgumentException.class, () -> m.members(0));
    }

    private static void checkAllGroupsAgainstBruteForce(Mesh m) {
        Axis[][] axisSets = {{Axis.DP}, {Axis.PP}, {Axis.CP}, {Axis.TP}, {Axis.DP, Axis.CP}, {Axis.PP, Axis.TP}, {Axis.DP, Axis.PP, Axis.CP, Axis.TP}};
        for (Axis[] axes : axisSets) {
            for (int r = 0; r < m.size(); r++) {
                List<Integer> expected = new ArrayList<>();
                for (int q = 0; q < m.size(); q++) {
                    boolean same = true;
                    for (Axis a : Axis.values()) {
                        if (!List.of(axes).contains(a) && m.coords(q).get(a) != m.coords(r).get(a)) same = false;
                    }
                    if (same) expected.add(q);
                }
                assertArrayEquals(expected.stream().mapToInt(Integer::intValue).toArray(), m.members(r, axes),
                        "group " + Mesh.groupName(axes) + " of rank " + r + " in " + m);
            }
        }
    }
}
