package fourfold.cli;

import fourfold.engine.UserError;
import fourfold.engine.data.TextDataset;
import fourfold.engine.train.CheckpointCheck;
import fourfold.engine.train.Inference;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Mean cross-entropy of a checkpoint over every non-overlapping window of a whole file.")
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "Checkpoint directory, or a run directory (its latest intact checkpoint).")
    Path checkpoint;
    @Option(names = "--data", description = "Text file (default: the embedded corpus, all of it).")
    Path data;
    @Option(names = "--seq", description = "Window length T (default: the model's max_position_embeddings).")
    Integer seq;
    @Option(names = "--batch", defaultValue = "32", description = "Windows per forward pass (default: ${DEFAULT-VALUE}); does not change the result.")
    int batch;
    @Option(names = "--json", description = "Print only {\"loss\": L, \"tokens\": N} on stdout.")
    boolean json;
    @Option(names = "--threads", description = "Worker threads (default: all cores).")
    Integer threads;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (batch < 1) throw new UserError("--batch must be >= 1, got " + batch);
        if (seq != null && seq < 1) throw new UserError("--seq must be >= 1, got " + seq);
        if (threads != null && threads < 1) throw new UserError("--threads must be >= 1, got " + threads);
        // The data first: a wrong path fails before the model is loaded.
        TextDataset ds = TextDataset.loadOrEmbedded(data);
        checkpoint = TrainCommand.checkpoint(checkpoint, CheckpointCheck.Purpose.WEIGHTS);
        try (Inference inf = Inference.open(checkpoint, threads != null ? threads : Runtime.getRuntime().availableProcessors(), batch)) {
            int T = seq != null ? seq : inf.config().maxSeq();
            ds.all().requireWindow(T);
            Inference.Loss r = inf.meanLoss(ds.all(), T, batch);
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                out.printf(Locale.ROOT, "{\"loss\": %.6f, \"tokens\": %d}%n", r.loss(), r.tokens());
            } else {
                out.printf(Locale.ROOT, "%s: loss %.4f over %,d tokens (%,d windows of %d)%n", ds.name(), r.loss(), r.tokens(), r.tokens() / T, T);
            }
            out.flush();
        }
        return 0;
    }
}
