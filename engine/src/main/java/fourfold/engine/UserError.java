package fourfold.engine;

/** A mistake in what the user asked for (a flag, a file, a layout): printed as one line, exit code 2. */
public class UserError extends RuntimeException {
    public UserError(String message) {
        super(message);
    }

    public UserError(String message, Throwable cause) {
        super(message, cause);
    }
}
