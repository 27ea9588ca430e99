package fourfold.devices;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Device.parallelFor on its worker team: every index once, fixed chunks, failures and nesting. */
class WorkerTeamTest {

    @Test
    void everyIndexRunsExactlyOnceInTheSameChunksAsTheFormula() {
        try (Device d = new Device(0, 1 << 20, 3)) {
            for (int n : new int[] {1, 2, 3, 7, 100, 1001}) {
                for (int round = 0; round < 200; round++) {
                    AtomicIntegerArray hits = new AtomicIntegerArray(n);
                    List<int[]> ranges = Collections.synchronizedList(new ArrayList<>());
                    d.parallelFor(n, 1, (s, e) -> {
                        ranges.add(new int[] {s, e});
                        for (int i = s; i < e; i++) hits.incrementAndGet(i);
                    });
                    for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "n=" + n + ": index " + i + " ran " + hits.get(i) + " times");
                    int chunks = Math.min(3, n);
                    assertEquals(chunks, ranges.size(), "n=" + n + ": one range per chunk");
                    Set<String> expected = new java.util.TreeSet<>(), got = new java.util.TreeSet<>();
                    for (int c = 0; c < chunks; c++) expected.add((long) n * c / chunks + ".." + (long) n * (c + 1) / chunks);
                    for (int[] r : ranges) got.add(r[0] + ".." + r[1]);
                    assertEquals(expected, got, "n=" + n + ": chunk bounds");
                }
            }
        }
    }

    @Test
    void helpersReallyRunChunks() {
        try (Device d = new Device(0, 1 << 20, 2)) {
            Set<String> threads = ConcurrentHashMap.newKeySet();
            for (int round = 0; round < 50; round++) {
                CountDownLatch both = new CountDownLatch(2);
                // each chunk waits for the other: only two threads at once can finish this
                d.parallelFor(2, 1, (s, e) -> {
                    threads.add(Thread.currentThread().getName());
                    both.countDown();
                    try {
                        assertTrue(both.await(60, java.util.concurrent.TimeUnit.SECONDS), "the other chunk did not run concurrently within 60 s (a hang guard)");
                    } catch (InterruptedException ex) {
                        throw new IllegalStateException(ex);
                    }
                });
            }
            assertTrue(threads.contains("gpu0-worker-1"), "a helper ran a chunk: " + threads);
        }
    }

    @Test
    void aFailureInAnyChunkReachesTheCallerAndTheTeamStaysUsable() {
        try (Device d = new Device(0, 1 << 20, 2)) {
            for (int failing = 0; failing < 2; failing++) {
                int f = failing;
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.parallelFor(2, 1, (s, end) -> {
                    if (s == f) throw new IllegalArgumentException("chunk " + f);
                }));
                assertEquals("chunk " + f, e.getMessage());
            }
            AtomicIntegerArray hits = new AtomicIntegerArray(10);
            d.parallelFor(10, 1, (s, e) -> {
                for (int i = s; i < e; i++) hits.incrementAndGet(i);
            });
            for (int i = 0; i < 10; i++) assertEquals(1, hits.get(i), "after failures, index " + i);
        }
    }

    @Test
    void nestedAndConcurrentLoopsRunTheirChunksOnTheCaller() throws Exception {
        try (Device d = new Device(0, 1 << 20, 2)) {
            AtomicIntegerArray hits = new AtomicIntegerArray(40);
            d.parallelFor(4, 1, (s, e) -> {
                for (int outer = s; outer < e; outer++) {
                    int o = outer;
                    d.parallelFor(10, 1, (s2, e2) -> {
                        for (int i = s2; i < e2; i++) hits.incrementAndGet(o * 10 + i);
                    });
                }
            });
            for (int i = 0; i < 40; i++) assertEquals(1, hits.get(i), "nested: index " + i);

            AtomicIntegerArray both = new AtomicIntegerArray(2000);
            Thread[] callers = new Thread[2];
            for (int t = 0; t < 2; t++) {
                int base = t * 1000;
                callers[t] = new Thread(() -> {
                    for (int round = 0; round < 100; round++) {
                        d.parallelFor(1000, 1, (s, e) -> {
                            for (int i = s; i < e; i++) both.incrementAndGet(base + i);
                        });
                    }
                });
                callers[t].start();
            }
            for (Thread t : callers) t.join();
            for (int i = 0; i < 2000; i++) assertEquals(100, both.get(i), "two callers: index " + i);
        }
    }

    @Test
    void closeStopsTheHelpers() throws Exception {
        Device d = new Device(7, 1 << 20, 3);
        d.parallelFor(3, 1, (s, e) -> {});
        d.close();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            assertFalse(t.getName().startsWith("gpu7-worker") && t.isAlive(), "helper still alive after close: " + t.getName());
        }
    }
}
