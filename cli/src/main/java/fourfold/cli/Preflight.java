package fourfold.cli;

import fourfold.devices.Bytes;
import fourfold.engine.UserError;
import fourfold.engine.io.OutputPaths;
import fourfold.engine.model.LlamaConfig;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/** Checks a run makes before it spends any time: every problem found here is one line, exit 2. */
final class Preflight {
    private Preflight() {}

    /** A file the run will write: its folder must exist or be creatable, and it must not be a directory. */
    static void requireWritableFile(String flag, Path file) {
        if (file == null) return;
        if (Files.isDirectory(file)) throw new UserError("cannot write " + flag + " " + file + ": it is a directory; give a file name");
        OutputPaths.requireCreatable(file, flag + " " + file, "choose another " + flag);
    }

    /**
     * Every device's arena is allocated (and zeroed) when the run starts, so all of them must fit
     * in this machine's memory; otherwise the host swaps or the allocation fails.
     */
    static void requireHostMemory(long perDevice, int devices) {
        long total;
        try {
            total = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
        } catch (RuntimeException | LinkageError e) {
            return; // not a HotSpot JVM: let the allocation decide
        }
        int n = Math.max(1, devices); // a bad layout is reported by the layout check
        long needed = Math.multiplyHigh(perDevice, n) != 0 ? Long.MAX_VALUE : perDevice * n;
        if (total > 0 && needed > total) {
            throw new UserError("--device-memory " + Bytes.format(perDevice) + " x " + n + " device(s) = " + Bytes.format(needed)
                    + " exceeds this machine's " + Bytes.format(total) + " of memory; lower --device-memory or use fewer devices");
        }
    }

    /** fourfold's tokenizer is bytes: token ids reach 255, so the embedding needs at least 256 rows. */
    static void requireByteVocabulary(LlamaConfig model, String what) {
        if (model.vocabSize() < 256) {
            throw new UserError(what + " has vocab_size " + model.vocabSize()
                    + ", but fourfold's tokenizer is bytes (ids 0-255); vocab_size must be at least 256");
        }
    }
}
