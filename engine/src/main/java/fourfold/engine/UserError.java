package fourfold.engine;

/**
 * A problem with what the user asked for or gave us (a missing data file, an unknown preset, a
 * corrupt checkpoint, an impossible layout), as opposed to a bug in fourfold.
 *
 * <p>The message is one line that says what is wrong and, where it helps, what to do; the CLI
 * prints it as is (no stack trace) and exits with code 2. Every user-facing error in the engine
 * uses this type.
 */
public class UserError extends RuntimeException {
    public UserError(String message) {
        super(message);
    }

    public UserError(String message, Throwable cause) {
        super(message, cause);
    }
}
