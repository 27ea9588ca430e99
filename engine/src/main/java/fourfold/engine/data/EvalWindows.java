package fourfold.engine.data;

import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * Every non-overlapping window of a span, for {@code eval} and validation loss: window i is
 * bytes [i*T, i*T+T+1) for i = 0 .. floor((n-1)/T)-1, so each byte after the first is a target
 * exactly once (except a tail shorter than T, which is dropped). Iterates batches of up to
 * {@code maxRows} windows; the last batch may have fewer rows.
 */
public final class EvalWindows implements Iterable<Batch> {
    private final TokenSpan data;
    private final int T;
    private final int maxRows;
    private final int count;

    public EvalWindows(TokenSpan data, int T, int maxRows) {
        if (T <= 0 || maxRows <= 0) {
            throw new IllegalArgumentException("EvalWindows: sequence length and rows per batch must be positive, got T=" + T + ", rows=" + maxRows);
        }
        data.requireWindow(T);
        this.data = data;
        this.T = T;
        this.maxRows = maxRows;
        this.count = data.windowCount(T);
    }

    /** Number of windows: floor((n-1)/T). */
    public int count() {
        return count;
    }

    /** Number of target tokens scored: count * T. */
    public long tokens() {
        return (long) count * T;
    }

    /** Number of batches the iterator yields: ceil(count / maxRows). */
    public int batchCount() {
        return (count + maxRows - 1) / maxRows;
    }

    @Override
    public Iterator<Batch> iterator() {
        return new Iterator<>() {
            private int next = 0; // index of the next window

            @Override
            public boolean hasNext() {
                return next < count;
            }

            @Override
            public Batch next() {
                if (!hasNext()) throw new NoSuchElementException();
                int rows = Math.min(maxRows, count - next);
                int[] inputs = new int[rows * T];
                int[] targets = new int[rows * T];
                for (int r = 0; r < rows; r++) {
                    int start = (next + r) * T;
                    data.copyTokens(start, T, inputs, r * T);
                    data.copyTokens(start + 1, T, targets, r * T);
                }
                next += rows;
                return new Batch(inputs, targets, rows, T);
            }
        };
    }
}
