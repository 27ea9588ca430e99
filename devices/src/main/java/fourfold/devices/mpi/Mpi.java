package fourfold.devices.mpi;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The few Open MPI functions fourfold calls, bound through the FFM API (no JNI, no jar). In Open
 * MPI handles are pointers and the predefined ones ({@code MPI_COMM_WORLD}, {@code MPI_BYTE}, ...)
 * are the addresses of global objects of libmpi, found here by symbol name.
 */
final class Mpi {
    static final String LIBRARY = "libmpi.so.40";
    static final int THREAD_MULTIPLE = 3;
    static final int SUCCESS = 0;
    static final int UNDEFINED = -32766;
    /** MPI_Status: MPI_SOURCE, MPI_TAG, MPI_ERROR, _cancelled (ints), _ucount (size_t). */
    static final long STATUS_BYTES = 24;
    /** The standard guarantees tags up to 32767 on every implementation. */
    static final int TAG_LIMIT = 32767;
    /** Open MPI's keyval of the predefined attribute MPI_TAG_UB (the first of its enum). */
    private static final int TAG_UB_KEYVAL = 0;

    final MemorySegment commWorld;
    final MemorySegment byteType;
    final MemorySegment doubleType;
    final MemorySegment opMax;
    final MemorySegment errorsReturn;

    private final MethodHandle initThread, initialized, finalized, finalizeFn, abort, commRank, commSize, commDup,
            commGroup, groupIncl, groupFree, commCreateGroup, commGetAttr, setErrhandler, isend, irecv, test, testall, getCount, allreduce, gather, gatherv, errorString;

    private static Mpi instance;

    /** Binds libmpi once per JVM; a clear error when Open MPI is not installed. */
    static synchronized Mpi load() {
        if (instance == null) instance = new Mpi();
        return instance;
    }

    private Mpi() {
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
        } catch (IllegalArgumentException e) {
            throw new MpiException("cannot load Open MPI's " + LIBRARY + " (" + e.getMessage()
                    + "); install it (Debian: apt-get install openmpi-bin libopenmpi-dev) and start fourfold with mpirun");
        }
        Linker linker = Linker.nativeLinker();
        commWorld = symbol(lib, "ompi_mpi_comm_world");
        byteType = symbol(lib, "ompi_mpi_byte");
        doubleType = symbol(lib, "ompi_mpi_double");
        opMax = symbol(lib, "ompi_mpi_op_max");
        errorsReturn = symbol(lib, "ompi_mpi_errors_return");
        initThread = fn(linker, lib, "MPI_Init_thread", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS);
        initialized = fn(linker, lib, "MPI_Initialized", JAVA_INT, ADDRESS);
        finalized = fn(linker, lib, "MPI_Finalized", JAVA_INT, ADDRESS);
        finalizeFn = fn(linker, lib, "MPI_Finalize", JAVA_INT);
        abort = fn(linker, lib, "MPI_Abort", JAVA_INT, ADDRESS, JAVA_INT);
        commRank = fn(linker, lib, "MPI_Comm_rank", JAVA_INT, ADDRESS, ADDRESS);
        commSize = fn(linker, lib, "MPI_Comm_size", JAVA_INT, ADDRESS, ADDRESS);
        commDup = fn(linker, lib, "MPI_Comm_dup", JAVA_INT, ADDRESS, ADDRESS);
        commGroup = fn(linker, lib, "MPI_Comm_group", JAVA_INT, ADDRESS, ADDRESS);
        groupIncl = fn(linker, lib, "MPI_Group_incl", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
        groupFree = fn(linker, lib, "MPI_Group_free", JAVA_INT, ADDRESS);
        commCreateGroup = fn(linker, lib, "MPI_Comm_create_group", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS);
        commGetAttr = fn(linker, lib, "MPI_Comm_get_attr", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
        setErrhandler = fn(linker, lib, "MPI_Comm_set_errhandler", JAVA_INT, ADDRESS, ADDRESS);
        isend = fn(linker, lib, "MPI_Isend", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        irecv = fn(linker, lib, "MPI_Irecv", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        test = fn(linker, lib, "MPI_Test", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        testall = fn(linker, lib, "MPI_Testall", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        getCount = fn(linker, lib, "MPI_Get_count", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        allreduce = fn(linker, lib, "MPI_Allreduce", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        gather = fn(linker, lib, "MPI_Gather", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS);
        gatherv = fn(linker, lib, "MPI_Gatherv", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS);
        errorString = fn(linker, lib, "MPI_Error_string", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
    }

    private static MemorySegment symbol(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new MpiException(LIBRARY + " has no symbol " + name + "; fourfold needs Open MPI 4.x"));
    }

    private static MethodHandle fn(Linker linker, SymbolLookup lib, String name, ValueLayout ret, ValueLayout... args) {
        return linker.downcallHandle(symbol(lib, name), ret == null ? FunctionDescriptor.ofVoid(args) : FunctionDescriptor.of(ret, args));
    }

    /** MPI_Init_thread asking for MPI_THREAD_MULTIPLE; returns the level granted. */
    int initThread() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment provided = a.allocate(JAVA_INT);
            check((int) initThread.invokeExact(MemorySegment.NULL, MemorySegment.NULL, THREAD_MULTIPLE, provided), "MPI_Init_thread");
            return provided.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    boolean initialized() {
        return flag(initialized, "MPI_Initialized");
    }

    boolean finalized() {
        return flag(finalized, "MPI_Finalized");
    }

    private boolean flag(MethodHandle h, String what) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(JAVA_INT);
            check((int) h.invokeExact(f), what);
            return f.get(JAVA_INT, 0) != 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void finalizeMpi() {
        try {
            check((int) finalizeFn.invokeExact(), "MPI_Finalize");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void abort(int code) {
        try {
            int ignored = (int) abort.invokeExact(commWorld, code);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    int rank(MemorySegment comm) {
        return intOut(commRank, comm, "MPI_Comm_rank");
    }

    int size(MemorySegment comm) {
        return intOut(commSize, comm, "MPI_Comm_size");
    }

    private int intOut(MethodHandle h, MemorySegment comm, String what) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            check((int) h.invokeExact(comm, out), what);
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    MemorySegment dup(MemorySegment comm) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check((int) commDup.invokeExact(comm, out), "MPI_Comm_dup");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * A communicator of the processes {@code ranks} of {@code comm} (in that order), created by
     * those processes alone (MPI_Comm_create_group), so that groups of different processes can be
     * made one after another without every process taking part in each.
     */
    MemorySegment createGroup(MemorySegment comm, int[] ranks, int tag) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment parent = a.allocate(ADDRESS);
            check((int) commGroup.invokeExact(comm, parent), "MPI_Comm_group");
            MemorySegment sub = a.allocate(ADDRESS);
            check((int) groupIncl.invokeExact(parent.get(ADDRESS, 0), ranks.length, a.allocateFrom(JAVA_INT, ranks), sub), "MPI_Group_incl");
            MemorySegment out = a.allocate(ADDRESS);
            check((int) commCreateGroup.invokeExact(comm, sub.get(ADDRESS, 0), tag, out), "MPI_Comm_create_group");
            check((int) groupFree.invokeExact(sub), "MPI_Group_free");
            check((int) groupFree.invokeExact(parent), "MPI_Group_free");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The largest tag this MPI accepts (attribute MPI_TAG_UB; at least 32767 by the standard). */
    int tagUpperBound() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment value = a.allocate(ADDRESS);
            MemorySegment flag = a.allocate(JAVA_INT);
            check((int) commGetAttr.invokeExact(commWorld, TAG_UB_KEYVAL, value, flag), "MPI_Comm_get_attr(MPI_TAG_UB)");
            if (flag.get(JAVA_INT, 0) == 0) return TAG_LIMIT;
            return value.get(ADDRESS, 0).reinterpret(Integer.BYTES).get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Errors come back as return codes (checked here) instead of aborting the job inside libmpi. */
    void errorsReturn(MemorySegment comm) {
        try {
            check((int) setErrhandler.invokeExact(comm, errorsReturn), "MPI_Comm_set_errhandler");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** MPI_Isend of {@code bytes} bytes at {@code buf}; the request handle is written to {@code request}. */
    void isend(MemorySegment buf, int bytes, int dest, int tag, MemorySegment comm, MemorySegment request) {
        try {
            check((int) isend.invokeExact(buf, bytes, byteType, dest, tag, comm, request), "MPI_Isend");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void irecv(MemorySegment buf, int bytes, int source, int tag, MemorySegment comm, MemorySegment request) {
        try {
            check((int) irecv.invokeExact(buf, bytes, byteType, source, tag, comm, request), "MPI_Irecv");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** MPI_Testall over {@code count} requests; true when all have completed (their handles are then freed). */
    boolean testAll(int count, MemorySegment requests, MemorySegment flag) {
        try {
            check((int) testall.invokeExact(count, requests, flag, MemorySegment.NULL), "MPI_Testall");
            return flag.get(JAVA_INT, 0) != 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** MPI_Test of one request, filling {@code status}; true when it has completed. */
    boolean test(MemorySegment request, MemorySegment flag, MemorySegment status) {
        try {
            check((int) test.invokeExact(request, flag, status), "MPI_Test");
            return flag.get(JAVA_INT, 0) != 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Bytes a completed receive got, from its status. */
    int receivedBytes(MemorySegment status) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            check((int) getCount.invokeExact(status, byteType, out), "MPI_Get_count");
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Element-wise maximum of {@code count} doubles over {@code comm} (order-independent, so exact). */
    void allReduceMax(MemorySegment send, MemorySegment recv, int count, MemorySegment comm) {
        try {
            check((int) allreduce.invokeExact(send, recv, count, doubleType, opMax, comm), "MPI_Allreduce");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void gatherInts(MemorySegment send, MemorySegment recv, int root, MemorySegment comm) {
        try {
            check((int) gather.invokeExact(send, 4, byteType, recv, 4, byteType, root, comm), "MPI_Gather");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void gatherBytes(MemorySegment send, int bytes, MemorySegment recv, MemorySegment counts, MemorySegment displs, int root, MemorySegment comm) {
        try {
            check((int) gatherv.invokeExact(send, bytes, byteType, recv, counts, displs, byteType, root, comm), "MPI_Gatherv");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private void check(int code, String what) {
        if (code != SUCCESS) throw new MpiException(what + " failed: " + errorText(code) + " (MPI error " + code + ")");
    }

    String errorText(int code) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment text = a.allocate(512);
            MemorySegment len = a.allocate(JAVA_INT);
            int rc = (int) errorString.invokeExact(code, text, len);
            if (rc != SUCCESS) return "unknown error";
            return new String(text.asSlice(0, Math.min(511, len.get(JAVA_INT, 0))).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        } catch (Throwable t) {
            return "unknown error";
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new MpiException("MPI call failed: " + t);
    }
}
