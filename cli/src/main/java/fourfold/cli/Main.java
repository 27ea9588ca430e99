package fourfold.cli;

import fourfold.devices.DeviceOutOfMemoryError;
import fourfold.devices.comm.Interconnect;
import fourfold.engine.UserError;
import fourfold.engine.kernels.Gemm;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Properties;

/** The `fourfold` command: train, evaluate and sample small Llama models on simulated GPUs. */
@Command(name = "fourfold", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Train small Llama models with data, context, pipeline and tensor parallelism on simulated GPUs (CPU cores).",
        subcommands = {TrainCommand.class, EvalCommand.class, GenerateCommand.class, InspectCommand.class, CompareCommand.class, PlotCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    public static final int EXIT_USER_ERROR = 2;
    public static final int EXIT_OUT_OF_MEMORY = 3;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the CLI and returns its exit code (tests call this directly). */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> handle(e, cmd));
        cl.setParameterExceptionHandler(Main::usageError);
        try {
            Gemm.machineKernels(); // reads the -Dfourfold.gemm.* tuning options: a bad one is reported here, once
        } catch (ExceptionInInitializerError e) {
            return handle(e, cl);
        }
        try {
            Interconnect.checkOptions(); // the -Dfourfold.comm.* collective algorithm options
        } catch (IllegalArgumentException e) {
            return handle(new UserError(e.getMessage()), cl);
        }
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError e) {
            // An Error thrown on this thread passes through picocli.
            return handle(e, cl);
        }
    }

    /**
     * A usage error (unknown option, bad value, missing option): one line instead of picocli's
     * message plus the whole usage text, which buries the problem in a log. Exit code 2.
     */
    private static int usageError(CommandLine.ParameterException e, String[] args) {
        CommandLine cmd = e.getCommandLine();
        StringBuilder line = new StringBuilder(decapitalize(oneLine(e.getMessage())));
        if (e instanceof CommandLine.UnmatchedArgumentException u) {
            List<String> suggestions = u.getSuggestions();
            if (!suggestions.isEmpty()) line.append(" (did you mean ").append(String.join(" or ", suggestions.subList(0, Math.min(3, suggestions.size())))).append("?)");
        }
        line.append("; see '").append(cmd.getCommandSpec().qualifiedName()).append(" --help'");
        cmd.getErr().println("fourfold: error: " + line);
        cmd.getErr().flush();
        return EXIT_USER_ERROR;
    }

    /**
     * User mistakes and out-of-memory are one line, no stack trace (exit 2 and 3); anything else
     * is a bug in fourfold and shows its trace (exit 1). Failures inside a rank arrive wrapped by
     * the cluster, so the causes are searched.
     */
    private static int handle(Throwable e, CommandLine cmd) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof UserError u) return fail(cmd, u.getMessage(), EXIT_USER_ERROR);
            if (t instanceof DeviceOutOfMemoryError oom) return fail(cmd, oom.getMessage(), EXIT_OUT_OF_MEMORY);
            if (t instanceof OutOfMemoryError) {
                boolean heap = String.valueOf(t.getMessage()).contains("Java heap");
                return fail(cmd, heap
                        ? "the Java heap is exhausted; give the JVM more with FOURFOLD_JAVA_OPTS=-Xmx8g, or use a smaller model or batch"
                        : "the host ran out of memory (" + t.getMessage() + "); lower --device-memory or use fewer devices", EXIT_OUT_OF_MEMORY);
            }
        }
        cmd.getErr().println("fourfold: internal error (a bug in fourfold; please report it with this trace):");
        e.printStackTrace(cmd.getErr());
        cmd.getErr().flush();
        return 1;
    }

    private static int fail(CommandLine cmd, String message, int code) {
        cmd.getErr().println("fourfold: error: " + oneLine(message));
        cmd.getErr().flush();
        return code;
    }

    /**
     * Messages are printed as one line, whatever a library put into them, and without the Java
     * class names some libraries prefix ("java.io.EOFException: End of input ..." reads as
     * "End of input ...").
     */
    static String oneLine(String s) {
        if (s == null || s.isBlank()) return "(no message)";
        return s.strip().replaceAll("\\s*\\R\\s*", " ").replaceAll("\\b(?:[a-z_][a-z0-9_]*\\.)+[A-Z]\\w*(?:Exception|Error): ", "");
    }

    private static String decapitalize(String s) {
        return s.length() > 1 && Character.isUpperCase(s.charAt(0)) && Character.isLowerCase(s.charAt(1))
                ? Character.toLowerCase(s.charAt(0)) + s.substring(1) : s;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("/fourfold-version.properties")) {
                if (in != null) p.load(in);
            }
            return new String[]{"fourfold " + p.getProperty("version", "unknown") + " (Java " + Runtime.version() + ", "
                    + Runtime.getRuntime().availableProcessors() + " cores, " + Gemm.machineKernels() + ")"};
        }
    }
}
