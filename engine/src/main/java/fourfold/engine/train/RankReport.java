package fourfold.engine.train;

import fourfold.devices.MemoryTag;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one device measured in a step: its peak bytes per memory tag, the bytes it sent per
 * "group/kind", its data-parallel bucket counts. Under MPI only the device's own process sees
 * them, so a report travels to rank 0's process as bytes ({@link #encode}, {@link #decode}).
 */
public record RankReport(EnumMap<MemoryTag, Long> peak, Map<String, Long> bytesSent, long[] bucketCounts) {

    /** {@code rank} and this report as bytes. */
    public byte[] encode(int rank) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(rank);
            for (MemoryTag t : MemoryTag.values()) out.writeLong(peak.getOrDefault(t, 0L));
            out.writeInt(bytesSent.size());
            for (var e : bytesSent.entrySet()) {
                out.writeUTF(e.getKey());
                out.writeLong(e.getValue());
            }
            out.writeInt(bucketCounts.length);
            for (long c : bucketCounts) out.writeLong(c);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
        return bytes.toByteArray();
    }

    /** The ranks and reports of one or more {@link #encode}d reports written one after another. */
    public static Map<Integer, RankReport> decodeAll(byte[] data) {
        Map<Integer, RankReport> all = new LinkedHashMap<>();
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
            while (in.available() > 0) {
                int rank = in.readInt();
                EnumMap<MemoryTag, Long> peak = new EnumMap<>(MemoryTag.class);
                for (MemoryTag t : MemoryTag.values()) peak.put(t, in.readLong());
                Map<String, Long> sent = new LinkedHashMap<>();
                for (int i = in.readInt(); i > 0; i--) sent.put(in.readUTF(), in.readLong());
                long[] buckets = new long[in.readInt()];
                for (int i = 0; i < buckets.length; i++) buckets[i] = in.readLong();
                all.put(rank, new RankReport(peak, sent, buckets));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return all;
    }
}
