package fourfold.cli;

import fourfold.devices.DeviceOutOfMemoryError;
import fourfold.engine.UserError;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** The `fourfold` command: train, evaluate and sample small Llama models on simulated GPUs. */
@Command(name = "fourfold", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Train small Llama models with data, context, pipeline and tensor parallelism on simulated GPUs (CPU cores).",
        subcommands = {TrainCommand.class, EvalCommand.class, GenerateCommand.class, CommandLine.HelpCommand.class})
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
        return cl.execute(args);
    }

    /** User mistakes and out-of-memory are one line, no stack trace; anything else is a bug and shows its trace. */
    private static int handle(Exception e, CommandLine cmd) {
        Throwable t = e;
        while (t != null) {
            if (t instanceof UserError u) {
                cmd.getErr().println("fourfold: error: " + u.getMessage());
                return EXIT_USER_ERROR;
            }
            if (t instanceof DeviceOutOfMemoryError oom) {
                cmd.getErr().println("fourfold: error: " + oom.getMessage());
                return EXIT_OUT_OF_MEMORY;
            }
            t = t.getCause();
        }
        e.printStackTrace(cmd.getErr());
        return 1;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("/fourfold-version.properties")) {
                if (in != null) p.load(in);
            }
            return new String[]{"fourfold " + p.getProperty("version", "unknown") + " (Java " + Runtime.version() + ", "
                    + Runtime.getRuntime().availableProcessors() + " cores)"};
        }
    }
}
