package fourfold.it.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import fourfold.cli.plot.Charts;
import fourfold.cli.plot.MetricsRun;
import fourfold.cli.plot.TraceTimeline;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Element;

import javax.imageio.ImageIO;
import javax.xml.parsers.DocumentBuilderFactory;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static fourfold.it.cli.Cli.run;
import static fourfold.it.cli.Cli.train;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What --metrics-out records per step (layout, MFU, memory per device and tag, bytes per axis),
 * `fourfold plot` (valid PNG and SVG of the asked size, the series and rows expected) and
 * `fourfold compare` (one row per layout, deviations from the single device, reasons).
 */
class PlotAndCompareTest {
    private static final int PARAMETERS = 180_800; // the test preset

    @TempDir
    static Path dir;
    static Path single, dp2, trace;

    @BeforeAll
    static void twoRuns() {
        single = Cli.Fixture.get().metrics();
        dp2 = dir.resolve("dp2.jsonl");
        trace = dir.resolve("dp2.trace.json");
        train("--layout", "dp2", "--steps", "2", "--eval-every", "0", "--out", dir.resolve("ck"), "--metrics-out", dp2, "--trace", trace).requireSuccess();
    }

    @Test
    void metricsRecordLayoutMfuMemoryPerDeviceAndBytesPerAxis() throws IOException {
        List<JsonObject> lines = Files.readAllLines(dp2).stream().map(l -> JsonParser.parseString(l).getAsJsonObject()).toList();
        assertEquals(2, lines.size(), "one object per step");
        for (JsonObject o : lines) {
            assertEquals("dp2", o.get("layout").getAsString(), "layout of the run: " + o);
            double mfu = o.get("mfu").getAsDouble();
            assertTrue(mfu > 0 && mfu <= 1, "MFU is a fraction of the peak: " + mfu);
            JsonArray devices = o.getAsJsonArray("peak_bytes_by_device");
            assertEquals(2, devices.size(), "a peak per device: " + o);
            for (var d : devices) {
                Set<String> tags = d.getAsJsonObject().keySet();
                assertEquals(Set.of("params", "grads", "optimizer", "activations", "comm"), tags, "every tag: " + d);
                assertEquals(4L * PARAMETERS, d.getAsJsonObject().get("params").getAsLong(), "dp replicates all fp32 weights on each device");
            }
            // A ring all-reduce of the fp32 gradients sends 2(n-1)/n of them per rank; the loss and
            // norm scalars add a few bytes.
            long dp = o.getAsJsonObject("bytes_sent").get("dp").getAsLong(), ring = 2L * 4L * PARAMETERS;
            assertTrue(dp >= ring && dp < ring + 16 * 1024, "dp bytes of a step " + dp + " vs the ring's " + ring);
            assertEquals(Set.of("dp"), o.getAsJsonObject("bytes_sent").keySet(), "only the dp group communicates");
        }
    }

    @Test
    void plotWritesPngAndSvgOfTheAskedSize() throws Exception {
        Path out = dir.resolve("plots");
        Cli.Run r = run("plot", single.toString(), dp2.toString(), "--trace", trace.toString(), "--step", "2",
                "--out", out.toString(), "--width", "640", "--height", "400").requireSuccess();
        List<String> written = r.out().lines().toList();
        List<String> stems = List.of("loss", "memory-single", "memory-dp2", "timeline-step2");
        assertEquals(stems.size() * 2, written.size(), "a PNG and an SVG per picture:\n" + r.out());
        for (String stem : stems) {
            BufferedImage png = ImageIO.read(out.resolve(stem + ".png").toFile());
            assertTrue(png != null, stem + ".png is a PNG");
            int height = stem.startsWith("timeline") ? 140 + 48 * 2 : 400; // the timeline is as tall as its rows need
            assertEquals(640, png.getWidth(), stem + " width");
            assertEquals(height, png.getHeight(), stem + " height");
            DocumentBuilderFactory xml = DocumentBuilderFactory.newInstance();
            xml.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false); // the SVG DTD is on the web
            Element svg = xml.newDocumentBuilder().parse(out.resolve(stem + ".svg").toFile()).getDocumentElement();
            assertEquals("svg", svg.getTagName(), stem + ".svg root");
            assertEquals(640.0, Double.parseDouble(svg.getAttribute("width").replace("px", "")), 0, stem + ".svg width");
        }
        // The timeline shows idle and communication in their colours (a real trace of a dp2 step has both).
        Set<Integer> colours = colours(ImageIO.read(out.resolve("timeline-step2.png").toFile()));
        assertTrue(colours.contains(Charts.IDLE.getRGB() & 0xFFFFFF), "idle grey drawn");
        assertTrue(colours.contains(Charts.COLOURS.get(TraceTimeline.Kind.COMM).getRGB() & 0xFFFFFF), "comm green drawn");
    }

    @Test
    void lossChartHasASeriesPerRunNamedByLayoutAndTimelineARowPerDevice() {
        List<MetricsRun> runs = List.of(MetricsRun.read(single), MetricsRun.read(dp2));
        var chart = Charts.loss(runs, 640, 400);
        // The fixture evaluates at steps 2 and 3; the dp2 run only at its end.
        assertEquals(List.of("single", "single (validation)", "dp2", "dp2 (validation)"),
                chart.getSeriesCollection().stream().map(s -> s.getName()).toList(), "series");
        assertEquals(3, runs.get(0).steps().length, "fixture steps");
        TraceTimeline t = TraceTimeline.read(trace, 2);
        assertEquals(2, t.devices().size(), "a row per device");
        assertTrue(t.devices().get(1).name().contains("dp=1"), "rows named by mesh coordinates: " + t.devices().get(1).name());
        for (TraceTimeline.Device d : t.devices()) {
            Set<TraceTimeline.Kind> kinds = d.spans().stream().map(TraceTimeline.Span::kind).collect(Collectors.toSet());
            // pp = 1 runs the executor too: F0 and BW0 spans around the kernels, then the dp all-reduces.
            assertEquals(Set.of(TraceTimeline.Kind.F, TraceTimeline.Kind.B, TraceTimeline.Kind.COMPUTE, TraceTimeline.Kind.COMM), kinds,
                    "the executor's F and BW, kernels, dp all-reduces");
            assertTrue(d.spans().stream().allMatch(s -> s.start() >= d.start() && s.end() <= d.end()), "spans clipped to the step");
        }
    }

    @Test
    void pipelineActionsAreRecognisedByTheirNames() {
        var K = TraceTimeline.Kind.class;
        String[][] cases = {{"F", "F"}, {"F mb 3", "F"}, {"F3 chunk 1", "F"}, {"B mb 0", "B"}, {"BW 2", "B"}, {"W", "W"}, {"W mb 7", "W"},
                {"gemm_nn", "COMPUTE"}, {"Backward", "COMPUTE"}, {"Fused", "COMPUTE"}, {"attention_bwd", "COMPUTE"}};
        for (String[] c : cases) assertEquals(Enum.valueOf(K, c[1]), TraceTimeline.kind(c[0], 0), "compute span '" + c[0] + "'");
        assertEquals(TraceTimeline.Kind.COMM, TraceTimeline.kind("F mb 3", 1), "anything on a comm lane is comm");
        assertEquals(TraceTimeline.Kind.COMM, TraceTimeline.kind("allReduce dp 4 KiB", 2), "async comm lane");
    }

    @Test
    void plotRefusesATraceStepThatIsNotThere() {
        String line = run("plot", "--trace", trace.toString(), "--step", "9", "--out", dir.resolve("none").toString()).requireOneLineError(2);
        assertTrue(line.contains("step 9") && line.contains("1..2"), line);
    }

    @Test
    void compareGivesARowPerLayoutWithDeviationsAndReasons() {
        Cli.Run r = run("compare", "--layouts", "dp2; tp2; pp2,cp2; dp3,tp3", "--preset", "test", "--steps", "2", "--batch", "4", "--seq", "16",
                "--device-memory", "64m", "--threads-per-device", "1").requireSuccess();
        List<List<String>> rows = r.out().lines().filter(l -> l.startsWith("| ")).skip(2)
                .map(l -> Arrays.stream(l.substring(2, l.length() - 2).split(" \\| ")).toList()).toList();
        assertEquals(List.of("single", "dp2", "tp2", "pp2,cp2", "dp3,tp3"), rows.stream().map(row -> row.get(0)).toList(), "rows:\n" + r.out());
        for (List<String> row : rows.subList(1, 4)) {
            assertTrue(Double.parseDouble(row.get(3)) <= 1e-5, row.get(0) + " reproduces the single-device losses: " + row);
            assertEquals(rows.get(0).get(2).substring(0, 5), row.get(2).substring(0, 5), "final loss of " + row.get(0));
        }
        int bubble = 8; // layout, devices, final loss, deviation, tokens/s, vs single, sim step, MFU, pp bubble
        assertEquals("-", rows.get(1).get(bubble), "no pipeline, no bubble: " + rows.get(1));
        double ppBubble = Double.parseDouble(rows.get(3).get(bubble));
        assertTrue(ppBubble > 0 && ppBubble < 1, "the pipeline's bubble is a fraction: " + rows.get(3));
        String reasons = rows.get(4).get(1);
        assertTrue(reasons.startsWith("cannot run: ") && reasons.contains("global batch 4") && reasons.contains("attention heads"),
                "every reason in the row: " + reasons);
        assertTrue(r.err().contains("compare [2/5] dp2 (2 devices): done"), "progress while it runs:\n" + r.err());
    }

    @Test
    void layoutShorthandExcludesTheSingleAxisFlags() {
        String line = train("--layout", "dp2", "--tp", "2").requireOneLineError(2);
        assertTrue(line.contains("--layout") && line.contains("--tp") && line.contains("exclude"), line);
        String all = train("--layout", "tp3,dp3").requireOneLineError(2);
        assertTrue(all.contains("(1) ") && all.contains("(2) ") && all.contains("heads"), "every reason at once: " + all);
    }

    private static Set<Integer> colours(BufferedImage img) {
        Set<Integer> seen = new HashSet<>();
        for (int y = 0; y < img.getHeight(); y++) for (int x = 0; x < img.getWidth(); x++) seen.add(img.getRGB(x, y) & 0xFFFFFF);
        return seen;
    }
}
