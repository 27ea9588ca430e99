package fourfold.cli;

import fourfold.engine.UserError;
import fourfold.engine.data.TextDataset;
import fourfold.engine.cp.Algorithm;
import fourfold.engine.cp.Sharding;
import fourfold.engine.data.Documents;
import fourfold.engine.train.CheckpointCheck;
import fourfold.engine.train.ContextParallelInference;
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
    @Option(names = "--threads", description = "Worker threads (default: all cores; with --cp, per device: cores / cp).")
    Integer threads;
    @Option(names = "--cp", defaultValue = "1", description = "Score on this many context-parallel devices, sharded as in training (default: ${DEFAULT-VALUE}).")
    int cp;
    @Option(names = "--cp-algo", defaultValue = "allgather", description = "allgather or ring (default: ${DEFAULT-VALUE}).")
    String cpAlgo;
    @Option(names = "--cp-shard", defaultValue = "headtail", description = "headtail, per-document or contiguous (default: ${DEFAULT-VALUE}).")
    String cpShard;
    @Option(names = "--doc-mask", description = "Score packed documents as train --doc-mask trains them.")
    boolean docMask;
    @Option(names = "--doc-delimiter", description = "Document delimiter for --doc-mask, Java escapes (default: \\n\\n).")
    String docDelimiter;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (batch < 1) throw new UserError("--batch must be >= 1, got " + batch);
        if (seq != null && seq < 1) throw new UserError("--seq must be >= 1, got " + seq);
        if (threads != null && threads < 1) throw new UserError("--threads must be >= 1, got " + threads);
        if (cp < 1) throw new UserError("--cp must be >= 1, got " + cp);
        Documents documents = CpFlags.documents(docMask, docDelimiter);
        Algorithm algorithm = CpFlags.algorithm(cpAlgo);
        Sharding sharding = CpFlags.sharding(cpShard);
        // The data first: a wrong path fails before the model is loaded.
        TextDataset ds = TextDataset.loadOrEmbedded(data);
        checkpoint = TrainCommand.checkpoint(checkpoint, CheckpointCheck.Purpose.WEIGHTS);
        int cores = Runtime.getRuntime().availableProcessors();
        Inference.Loss r;
        int T;
        if (cp == 1) {
            try (Inference inf = Inference.open(checkpoint, threads != null ? threads : cores, batch)) {
                T = seq != null ? seq : inf.config().maxSeq();
                ds.all().requireWindow(T);
                r = inf.meanLoss(ds.all(), T, batch, documents);
            }
        } else {
            try (ContextParallelInference inf = new ContextParallelInference(checkpoint, cp, algorithm, sharding, documents,
                    threads != null ? threads : Math.max(1, cores / cp), batch)) {
                T = seq != null ? seq : inf.config().maxSeq();
                ds.all().requireWindow(T);
                r = inf.meanLoss(ds.all(), T, batch);
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.printf(Locale.ROOT, "{\"loss\": %.6f, \"tokens\": %d}%n", r.loss(), r.tokens());
        } else {
            out.printf(Locale.ROOT, "%s: loss %.4f over %,d tokens (%,d windows of %d)%n", ds.name(), r.loss(), r.tokens(), r.tokens() / T, T);
        }
        out.flush();
        return 0;
    }
}
