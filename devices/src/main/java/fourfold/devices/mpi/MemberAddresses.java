package fourfold.devices.mpi;

import java.util.Arrays;

/**
 * Where the members of a group that spans processes live: the rank, in the group's communicator,
 * of each member's process. A communicator's ranks are processes, so when one process hosts several
 * members of the group (several devices per process) a message also says in its tag which member
 * sent it and which it is for; MPI then matches it to exactly one receive. With one member per
 * process the tags are the plain ones, as before there were several devices per process.
 */
final class MemberAddresses {
    private final int[] commRank;
    private final int n;
    private final boolean shared;
    /** Collective call numbers that fit the tag space before they wrap (all of [0, 32767] unless shared). */
    private final long collectiveSlots;

    /**
     * @param members the group's global ranks, ascending
     * @param devicesPerProcess process p hosts the global ranks [p·k, (p+1)·k)
     * @param tagUpperBound the largest tag the MPI library accepts (MPI_TAG_UB)
     */
    MemberAddresses(String group, int[] members, int devicesPerProcess, int tagUpperBound) {
        this.n = members.length;
        int[] processes = processes(members, devicesPerProcess);
        this.commRank = new int[n];
        for (int j = 0; j < n; j++) commRank[j] = Arrays.binarySearch(processes, members[j] / devicesPerProcess);
        this.shared = processes.length < n;
        long pairs = (long) n * n;
        if (shared && (Mpi.TAG_LIMIT + 1L) * pairs - 1 > tagUpperBound) {
            throw new MpiException("group " + group + " has several members per process, so its messages need tags up to "
                    + ((Mpi.TAG_LIMIT + 1L) * pairs - 1) + " but this MPI accepts tags up to " + tagUpperBound
                    + " (MPI_TAG_UB); use fewer --devices-per-process");
        }
        this.collectiveSlots = shared ? Math.min(Mpi.TAG_LIMIT + 1L, (tagUpperBound + 1L) / pairs) : Mpi.TAG_LIMIT + 1L;
    }

    /** The distinct processes that host {@code members}, ascending: the ranks of the group's communicator. */
    static int[] processes(int[] members, int devicesPerProcess) {
        return Arrays.stream(members).map(r -> r / devicesPerProcess).distinct().sorted().toArray();
    }

    /** The communicator rank of member {@code member}'s process. */
    int rank(int member) {
        return commRank[member];
    }

    /** The tag of collective number {@code seq}'s messages from member {@code from} to member {@code to}. */
    int collectiveTag(long seq, int from, int to) {
        int call = (int) (seq % collectiveSlots);
        return shared ? (call * n + from) * n + to : call;
    }

    /** The MPI tag that carries user tag {@code tag} (in [0, 32767]) from member {@code from} to {@code to}. */
    int pointToPointTag(int tag, int from, int to) {
        return shared ? (tag * n + from) * n + to : tag;
    }
}
