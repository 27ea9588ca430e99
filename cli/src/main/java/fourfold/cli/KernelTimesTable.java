package fourfold.cli;

import fourfold.devices.KernelTimes;
import fourfold.engine.train.Trainer;

import java.util.Locale;

/** `train --kernel-times`: where a training step's wall time goes, kernel by kernel, as a markdown table. */
final class KernelTimesTable {
    private KernelTimesTable() {}

    /** Steps left out before timing: the JIT's warm-up (the first 10 steps of `tiny` take ~10 s), at most 50. */
    static int warmupSteps(int steps) {
        return Math.min(50, steps / 5);
    }

    static String format(Trainer.KernelProfile p) {
        StringBuilder sb = new StringBuilder();
        if (p.steps() == 0) return "kernel times: no step was timed (the run was shorter than its warm-up)\n";
        double per = (double) p.ranks() * p.steps(); // rows are sums over ranks and steps
        double stepMs = p.stepSeconds() * 1e3;
        sb.append(String.format(Locale.ROOT, "kernel wall times, steps %d..%d (%d steps after %d of warm-up), mean over %d rank%s: %.2f ms per step%n",
                p.firstStep(), p.firstStep() + p.steps() - 1, p.steps(), p.firstStep() - 1, p.ranks(), p.ranks() == 1 ? "" : "s", stepMs));
        sb.append("| kernel | calls/step | ms/step | share of step | GFLOP/s | GB/s |\n|---|---|---|---|---|---|\n");
        long nanos = 0;
        for (KernelTimes.Row r : p.rows()) {
            nanos += r.nanos();
            double ms = r.nanos() / 1e6 / per;
            sb.append(String.format(Locale.ROOT, "| %s | %.0f | %.2f | %.1f%% | %s | %s |%n", r.kernel(), r.calls() / per, ms, 100 * ms / stepMs,
                    rate(r.flops(), r.nanos()), rate(r.bytes(), r.nanos())));
        }
        double kernelMs = nanos / 1e6 / per;
        sb.append(String.format(Locale.ROOT, "| all kernels | | %.2f | %.1f%% | | |%n", kernelMs, 100 * kernelMs / stepMs));
        double commMs = p.commSeconds() * 1e3, waitMs = p.waitSeconds() * 1e3;
        sb.append(String.format(Locale.ROOT, "| communication calls (collectives, sends, receives, awaits) | | %.2f | %.1f%% | | |%n",
                commMs, 100 * commMs / stepMs));
        sb.append(String.format(Locale.ROOT, "| of which blocked waiting (for other ranks, a message, the comm stream) | | %.2f | %.1f%% | | |%n",
                waitMs, 100 * waitMs / stepMs));
        double rest = stepMs - kernelMs - commMs;
        sb.append(String.format(Locale.ROOT, "| the rest (layer code; on a shared core, descheduled there) | | %.2f | %.1f%% | | |%n",
                rest, 100 * rest / stepMs));
        return sb.toString();
    }

    /** Per second, in units of 10^9; blank when the kernel reported none (GFLOP/s of a copy). */
    private static String rate(double amount, long nanos) {
        return amount <= 0 || nanos <= 0 ? "" : String.format(Locale.ROOT, "%.1f", amount / nanos);
    }
}
