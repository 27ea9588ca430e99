package fourfold.cli;

import fourfold.engine.UserError;
import fourfold.engine.data.ByteTokenizer;
import fourfold.engine.train.CheckpointCheck;
import fourfold.engine.train.Inference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "generate", mixinStandardHelpOptions = true, description = "Stream text sampled from a checkpoint.")
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", defaultValue = "checkpoints/latest", description = "Checkpoint directory, or a run directory or its latest file (default: ${DEFAULT-VALUE}).")
    Path checkpoint;
    @Option(names = "--prompt", defaultValue = "\n", description = "Text to continue (default: a newline).")
    String prompt;
    @Option(names = "--max-tokens", defaultValue = "500", description = "Tokens (bytes) to generate (default: ${DEFAULT-VALUE}).")
    int maxTokens;
    @Option(names = "--temperature", defaultValue = "0.8", description = "Sampling temperature, 0 = greedy (default: ${DEFAULT-VALUE}).")
    double temperature;
    @Option(names = "--top-k", defaultValue = "0", description = "Sample among the k most likely tokens, 0 = all (default: ${DEFAULT-VALUE}).")
    int topK;
    @Option(names = "--seed", defaultValue = "1337", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--threads", description = "Worker threads (default: all cores).")
    Integer threads;

    @Override
    public Integer call() {
        if (maxTokens < 0) throw new UserError("--max-tokens must be >= 0, got " + maxTokens);
        if (temperature < 0) throw new UserError("--temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new UserError("--top-k must be >= 0, got " + topK);
        if (prompt.isEmpty()) throw new UserError("--prompt must not be empty");
        if (threads != null && threads < 1) throw new UserError("--threads must be >= 1, got " + threads);
        checkpoint = TrainCommand.checkpoint(checkpoint, CheckpointCheck.Purpose.WEIGHTS);
        try (Inference inf = Inference.open(checkpoint, threads != null ? threads : Runtime.getRuntime().availableProcessors())) {
            PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
            ByteTokenizer.StreamDecoder decoder = new ByteTokenizer.StreamDecoder();
            out.print(prompt);
            inf.generate(ByteTokenizer.encode(prompt), maxTokens, temperature, topK, seed, token -> out.print(decoder.push(token)));
            out.print(decoder.flush());
            out.println();
        }
        return 0;
    }
}
