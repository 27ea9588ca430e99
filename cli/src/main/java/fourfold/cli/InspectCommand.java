package fourfold.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import fourfold.engine.UserError;
import fourfold.engine.tensor.Shape;
import fourfold.engine.train.CheckpointCheck;
import fourfold.engine.train.CheckpointHistory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Describe a checkpoint (or every checkpoint of a run directory) and check every checksum; exit 0 when intact, 2 when not.")
final class InspectCommand implements Callable<Integer> {
    @Parameters(paramLabel = "DIR", description = "A checkpoint directory, or a run directory (`fourfold train --out`).")
    Path dir;
    @Option(names = "--json", description = "Print one JSON object instead of text.")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (!Files.exists(dir)) throw new UserError("checkpoint " + dir + " does not exist; give a checkpoint directory or a run directory (`fourfold train --out`)");
        Path parent = dir.toAbsolutePath().getParent();
        if (Files.isRegularFile(dir) && dir.getFileName().toString().equals(CheckpointHistory.LATEST) && CheckpointHistory.pointer(parent) != null) {
            dir = dir.getParent() != null ? dir.getParent() : parent; // a run directory's latest file: that run directory
        }
        PrintWriter out = spec.commandLine().getOut();
        List<String> problems = new ArrayList<>();
        JsonObject result;
        StringBuilder text = new StringBuilder();
        if (CheckpointHistory.isRunDirectory(dir)) {
            result = runDirectory(text, problems);
        } else {
            CheckpointCheck.Report r = CheckpointCheck.inspect(dir, CheckpointCheck.Purpose.INSPECT);
            problems.addAll(r.problems());
            result = checkpoint(r, text);
        }
        out.print(json ? new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().serializeNulls().create().toJson(result) + "\n" : text);
        out.flush();
        if (problems.isEmpty()) return 0;
        System.err.println("fourfold: error: " + Main.oneLine(problems.getFirst()) + (problems.size() > 1 ? " (and " + (problems.size() - 1) + " more problems)" : ""));
        return Main.EXIT_USER_ERROR;
    }

    private JsonObject runDirectory(StringBuilder text, List<String> problems) {
        JsonObject j = new JsonObject();
        String pointer = CheckpointHistory.pointer(dir);
        j.addProperty("run_directory", dir.toString());
        j.addProperty("latest", pointer);
        text.append("run directory ").append(dir).append(": ").append(CheckpointHistory.LATEST).append(" -> ")
                .append(pointer == null ? "(no pointer)" : pointer).append('\n');
        JsonArray list = new JsonArray();
        CheckpointCheck.Report shown = null;
        for (Path step : CheckpointHistory.steps(dir)) {
            CheckpointCheck.Report r = CheckpointCheck.inspect(step, CheckpointCheck.Purpose.INSPECT);
            boolean isLatest = step.getFileName().toString().equals(pointer);
            JsonObject o = new JsonObject();
            o.addProperty("name", step.getFileName().toString());
            o.addProperty("step", r.step());
            o.addProperty("intact", r.intact());
            o.addProperty("latest", isLatest);
            o.add("problems", strings(r.problems()));
            list.add(o);
            text.append(String.format(Locale.ROOT, "  %-14s %s%s%n", step.getFileName(), r.intact() ? "intact" : "DAMAGED: " + r.problems().getFirst(),
                    isLatest ? "  (latest)" : ""));
            problems.addAll(r.problems());
            if (isLatest || (pointer == null && shown == null)) shown = r;
        }
        JsonArray partial = new JsonArray();
        for (Path p : CheckpointHistory.partials(dir)) {
            partial.add(p.getFileName().toString());
            text.append(String.format(Locale.ROOT, "  %-14s partial save of a run that stopped; ignored, removed at the next save%n", p.getFileName()));
        }
        j.add("checkpoints", list);
        j.add("partial", partial);
        if (shown != null) {
            text.append('\n');
            j.add("inspected", checkpoint(shown, text));
        }
        return j;
    }

    private static JsonObject checkpoint(CheckpointCheck.Report r, StringBuilder text) {
        JsonObject j = new JsonObject();
        j.addProperty("path", r.dir().toString());
        j.addProperty("intact", r.intact());
        j.addProperty("step", r.step());
        j.addProperty("layout", r.layout());
        long parameters = r.config() != null ? r.config().parameterCount()
                : r.tensors().stream().filter(t -> t.file().equals(CheckpointCheck.MODEL)).mapToLong(t -> Shape.numel(t.shape())).sum();
        j.add("config", r.config() == null ? null : JsonParser.parseString(r.config().toHfJson()));
        j.addProperty("parameters", parameters);
        text.append("checkpoint ").append(r.dir()).append(": ").append(r.intact() ? "intact, every checksum holds" : "DAMAGED").append('\n');
        text.append("  step ").append(r.step() == null ? "unknown" : r.step()).append(", saved from ").append(r.layout() == null ? "an unknown layout" : r.layout()).append('\n');
        if (r.config() != null) {
            var c = r.config();
            text.append(String.format(Locale.ROOT, "  config: vocab %d, dim %d, %d layers, %d heads (%d kv heads), ffn %d, max_seq %d, rope_theta %s, norm_eps %s%n",
                    c.vocabSize(), c.dim(), c.nLayers(), c.nHeads(), c.nKvHeads(), c.ffnDim(), c.maxSeq(), c.ropeTheta(), c.normEps()));
        }
        text.append(String.format(Locale.ROOT, "  parameters: %,d%n  files:%n", parameters));
        JsonArray files = new JsonArray();
        for (CheckpointCheck.FileStatus f : r.files()) {
            JsonObject o = new JsonObject();
            o.addProperty("name", f.name());
            o.addProperty("bytes", f.bytes());
            o.addProperty("checksum", f.checksum());
            o.addProperty("ok", f.problem() == null);
            o.addProperty("problem", f.problem());
            files.add(o);
            long n = r.tensors().stream().filter(t -> t.file().equals(f.name())).count();
            text.append(String.format(Locale.ROOT, "    %-22s %,12d bytes  %-17s %s%n", f.name(), f.bytes(),
                    f.checksum() != null ? "crc32c " + f.checksum() : n > 0 || f.name().endsWith(".safetensors") ? n + " tensors" : "",
                    f.problem() == null ? "ok" : "DAMAGED"));
        }
        j.add("files", files);
        text.append("  tensors:\n");
        JsonArray tensors = new JsonArray();
        for (CheckpointCheck.TensorStatus t : r.tensors()) {
            JsonObject o = new JsonObject();
            o.addProperty("file", t.file());
            o.addProperty("name", t.name());
            o.addProperty("dtype", t.dtype());
            JsonArray shape = new JsonArray();
            for (int d : t.shape()) shape.add(d);
            o.add("shape", shape);
            o.addProperty("checksum", t.checksum());
            o.addProperty("ok", t.problem() == null);
            tensors.add(o);
            text.append(String.format(Locale.ROOT, "    %-48s %-4s %-12s %s%n", t.name(), t.dtype(), Shape.str(t.shape()),
                    t.problem() != null ? "CHECKSUM MISMATCH" : t.checksum() == null ? "no checksum" : "crc32c " + t.checksum() + " ok"));
        }
        j.add("tensors", tensors);
        j.add("problems", strings(r.problems()));
        j.add("notes", strings(r.notes()));
        for (String p : r.problems()) text.append("  problem: ").append(p).append('\n');
        for (String n : r.notes()) text.append("  note: ").append(n).append('\n');
        return j;
    }

    private static JsonArray strings(List<String> s) {
        JsonArray a = new JsonArray();
        s.forEach(a::add);
        return a;
    }
}
