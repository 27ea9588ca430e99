package fourfold.devices.comm;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bytes each rank sent and received, per group name and per kind of communication: what the
 * engine's tests compare with the ZeRO / TP formulas. Bytes are those that crossed a link (a
 * member's own chunk, copied locally, is not counted), so a ring all-reduce of S bytes on n
 * members counts 2(n-1)/n * S sent and received per rank when n divides the count.
 */
public final class CommStats {
    /** One row: the calls and bytes of one rank on one group for one kind. */
    public record Entry(int rank, String group, CommKind kind, long calls, long bytesSent, long bytesReceived) {}

    private record Key(int rank, String group, CommKind kind) {}

    private static final class Counters {
        final AtomicLong calls = new AtomicLong();
        final AtomicLong sent = new AtomicLong();
        final AtomicLong received = new AtomicLong();
    }

    private final ConcurrentHashMap<Key, Counters> counters = new ConcurrentHashMap<>();

    public void record(int rank, String group, CommKind kind, long bytesSent, long bytesReceived) {
        Counters c = counters.computeIfAbsent(new Key(rank, group, kind), k -> new Counters());
        c.calls.incrementAndGet();
        c.sent.addAndGet(bytesSent);
        c.received.addAndGet(bytesReceived);
    }

    /** All bytes {@code rank} sent. */
    public long bytesSent(int rank) {
        return sum(rank, null, null, true);
    }

    public long bytesReceived(int rank) {
        return sum(rank, null, null, false);
    }

    /** Bytes {@code rank} sent on the group called {@code group} ("dp", "dp×cp", ...). */
    public long bytesSent(int rank, String group) {
        return sum(rank, group, null, true);
    }

    public long bytesReceived(int rank, String group) {
        return sum(rank, group, null, false);
    }

    public long bytesSent(int rank, String group, CommKind kind) {
        return sum(rank, group, kind, true);
    }

    public long bytesReceived(int rank, String group, CommKind kind) {
        return sum(rank, group, kind, false);
    }

    /** Number of calls of {@code kind} by {@code rank} on {@code group} (groups of size 1 are not counted). */
    public long calls(int rank, String group, CommKind kind) {
        Counters c = counters.get(new Key(rank, group, kind));
        return c == null ? 0 : c.calls.get();
    }

    private long sum(int rank, String group, CommKind kind, boolean sent) {
        long total = 0;
        for (var e : counters.entrySet()) {
            Key k = e.getKey();
            if (k.rank != rank || (group != null && !k.group.equals(group)) || (kind != null && k.kind != kind)) continue;
            total += sent ? e.getValue().sent.get() : e.getValue().received.get();
        }
        return total;
    }

    /** Every non-empty row, sorted by rank, group, kind. */
    public List<Entry> entries() {
        List<Entry> out = new ArrayList<>();
        counters.forEach((k, c) -> out.add(new Entry(k.rank, k.group, k.kind, c.calls.get(), c.sent.get(), c.received.get())));
        out.sort(Comparator.comparingInt(Entry::rank).thenComparing(Entry::group).thenComparing(Entry::kind));
        return out;
    }

    /** Back to zero (e.g. after warm-up, or per training step). */
    public void reset() {
        counters.clear();
    }
}
