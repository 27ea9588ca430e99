package fourfold.engine.io;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A test hook to kill a checkpoint write at a chosen point. With
 * {@code -Dfourfold.test.haltAt=POINT@N}, the N-th time the writer reaches POINT it prints
 * {@code fourfold-test: halted at POINT@N} on stderr and blocks forever, so that a test can
 * SIGKILL the process exactly there (it waits for the line, not for a time). Without the
 * property this is a map lookup per tensor written.
 *
 * <p>Points: {@code FILE:K} after the K-th tensor of FILE (e.g. {@code model.safetensors:3}),
 * {@code directory-written} when a checkpoint's files are complete under their temporary name,
 * {@code before-pointer} when the step directory is in place but {@code latest} not moved yet.
 */
public final class CrashPoints {
    private static final String HALT_AT = System.getProperty("fourfold.test.haltAt");
    private static final ConcurrentHashMap<String, AtomicInteger> SEEN = new ConcurrentHashMap<>();

    private CrashPoints() {}

    public static void reached(String point) {
        if (HALT_AT == null) return;
        int n = SEEN.computeIfAbsent(point, p -> new AtomicInteger()).incrementAndGet();
        String here = point + "@" + n;
        if (!here.equals(HALT_AT)) return;
        System.err.println("fourfold-test: halted at " + here);
        System.err.flush();
        while (true) LockSupport.park();
    }
}
