package fourfold.cli;

import fourfold.engine.train.StepMetrics;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.util.Locale;

/**
 * The progress bar (step, loss, tokens/s, ETA) and one log line per evaluation. The bar is drawn
 * only when stderr is a terminal: in a log file or a pipe its redraws would be thousands of
 * carriage-return lines, so there the log lines alone say how the run goes (step 1, every 50th
 * step, every evaluation).
 */
final class TrainProgress implements AutoCloseable {
    private final int steps;
    private final boolean bar;
    private ProgressBar pb;
    private double smoothedTps;
    private int firstStep = 1;

    TrainProgress(int steps, boolean bar) {
        this.steps = steps;
        this.bar = bar && Terminal.stderrIsTerminal();
    }

    void start(int done) {
        firstStep = done + 1;
        if (!bar) return;
        // A one-line bar redrawn after "\r" (the library's default draws one line up and moves the
        // cursor around it, which overwrites whatever log line was printed in between).
        ConsoleProgressBarConsumer oneLine = new ConsoleProgressBarConsumer(System.err) {
            @Override
            public int getMaxRenderedLength() {
                return Math.min(110, super.getMaxRenderedLength()); // never wider than the terminal: a wrapped bar cannot be redrawn
            }
        };
        pb = new ProgressBarBuilder().setTaskName("train").setInitialMax(steps).setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(200).continuousUpdate().setConsumer(oneLine).build();
        pb.stepTo(done);
    }

    void step(StepMetrics m) {
        smoothedTps = smoothedTps == 0 ? m.tokensPerSecond() : 0.9 * smoothedTps + 0.1 * m.tokensPerSecond();
        if (pb != null) {
            pb.stepTo(m.step());
            pb.setExtraMessage(String.format(Locale.ROOT, "loss %.4f %s tok/s", m.loss(), compact(smoothedTps)));
        }
        boolean log = !Double.isNaN(m.valLoss()) || (pb == null && (m.step() % 50 == 0 || m.step() == firstStep));
        if (log) {
            String line = String.format(Locale.ROOT, "step %5d/%d | loss %.4f | %slr %.2e | grad norm %.3f | %s tok/s%s",
                    m.step(), steps, m.loss(), Double.isNaN(m.valLoss()) ? "" : String.format(Locale.ROOT, "val %.4f | ", m.valLoss()),
                    m.lr(), m.gradNorm(), compact(smoothedTps),
                    Double.isNaN(m.ppBubble()) ? "" : String.format(Locale.ROOT, " | pp bubble %.3f", m.ppBubble()));
            // Over the bar's line: back to column 0 and clear it; the bar is redrawn on the next line.
            System.err.println(pb != null ? "\r\033[K" + line : line);
        }
    }

    private static String compact(double v) {
        return v >= 1000 ? String.format(Locale.ROOT, "%.1fk", v / 1000) : String.format(Locale.ROOT, "%.0f", v);
    }

    @Override
    public void close() {
        if (pb != null) {
            pb.close();
            pb = null;
        }
    }
}
