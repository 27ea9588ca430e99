package fourfold.cli;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/** Whether stderr is an interactive terminal (the progress bar draws there and nowhere else). */
final class Terminal {
    private Terminal() {}

    /**
     * isatty(2) from the C library (POSIX). {@code System.console()} cannot answer this: it looks
     * at stdin and stdout, so `fourfold train 2> log.txt` in a terminal would fill log.txt with
     * redraws of the bar. Where isatty is not found (Windows), falls back to System.console().
     */
    static boolean stderrIsTerminal() {
        try {
            Linker linker = Linker.nativeLinker();
            var isatty = linker.defaultLookup().find("isatty");
            if (isatty.isEmpty()) return System.console() != null && System.console().isTerminal();
            MethodHandle h = linker.downcallHandle(isatty.get(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            return (int) h.invokeExact(2) == 1;
        } catch (Throwable t) {
            return false; // no native access: a log line per eval is never wrong
        }
    }
}
