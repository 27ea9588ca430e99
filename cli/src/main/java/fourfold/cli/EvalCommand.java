package fourfold.cli;

import fourfold.engine.data.TextDataset;
import fourfold.engine.train.Inference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Mean cross-entropy of a checkpoint over every non-overlapping window of a whole file.")
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "Checkpoint directory.")
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

    @Override
    public Integer call() {
        try (Inference inf = Inference.open(checkpoint, threads != null ? threads : Runtime.getRuntime().availableProcessors())) {
            TextDataset ds = TextDataset.loadOrEmbedded(data);
            int T = seq != null ? seq : inf.config().maxSeq();
            Inference.Loss r = inf.meanLoss(ds.all(), T, batch);
            if (json) {
                System.out.printf(Locale.ROOT, "{\"loss\": %.6f, \"tokens\": %d}%n", r.loss(), r.tokens());
            } else {
                System.out.printf(Locale.ROOT, "%s: loss %.4f over %,d tokens (%s windows of %d)%n", ds.name(), r.loss(), r.tokens(),
                        String.format(Locale.ROOT, "%,d", r.tokens() / T), T);
            }
        }
        return 0;
    }
}
