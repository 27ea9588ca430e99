package fourfold.cli.plot;

import org.knowm.xchart.AnnotationText;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.Marker;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.BasicStroke;
import java.awt.Color;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** The three pictures of `fourfold plot`, as XChart charts (written by {@link ChartFiles}). */
public final class Charts {
    private Charts() {}

    /** Timeline colours: pipeline actions warm, plain compute blue, communication green, idle grey. */
    public static final Map<TraceTimeline.Kind, Color> COLOURS = new EnumMap<>(Map.of(
            TraceTimeline.Kind.F, new Color(0x1F77B4),
            TraceTimeline.Kind.B, new Color(0xFF7F0E),
            TraceTimeline.Kind.W, new Color(0x9467BD),
            TraceTimeline.Kind.COMPUTE, new Color(0x5DA5DA),
            TraceTimeline.Kind.COMM, new Color(0x2CA02C)));
    public static final Color IDLE = new Color(0xD9D9D9);

    private static final List<Color> RUN_COLOURS = List.of(new Color(0x1F77B4), new Color(0xD62728), new Color(0x2CA02C),
            new Color(0xFF7F0E), new Color(0x9467BD), new Color(0x8C564B), new Color(0xE377C2), new Color(0x7F7F7F));
    private static final List<BasicStroke> DASHES = List.of(
            new BasicStroke(2.5f),
            new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[]{9f, 6f}, 0f),
            new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[]{2f, 4f}, 0f),
            new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[]{12f, 4f, 2f, 4f}, 0f));
    private static final List<Marker> MARKERS = List.of(SeriesMarkers.CIRCLE, SeriesMarkers.SQUARE,
            SeriesMarkers.TRIANGLE_UP, SeriesMarkers.CROSS, SeriesMarkers.PLUS, SeriesMarkers.TRIANGLE_DOWN);

    /** Training loss by step, one line per run (validation losses as markers), named by layout. */
    public static XYChart loss(List<MetricsRun> runs, int width, int height) {
        XYChart c = new XYChartBuilder().width(width).height(height).title("Training loss").xAxisTitle("step").yAxisTitle("loss").build();
        c.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        // Layouts that agree draw the same curve: each run gets its own colour, dash and marker,
        // so that curves lying on each other stay visible.
        for (int i = 0; i < runs.size(); i++) {
            MetricsRun r = runs.get(i);
            Color colour = RUN_COLOURS.get(i % RUN_COLOURS.size());
            XYSeries s = c.addSeries(r.name(), r.steps(), r.losses());
            s.setLineColor(colour);
            s.setLineStyle(DASHES.get(i % DASHES.size()));
            s.setMarker(r.steps().length > 40 ? SeriesMarkers.NONE : MARKERS.get(i % MARKERS.size()));
            s.setMarkerColor(colour);
            if (r.valSteps().length > 0) {
                XYSeries v = c.addSeries(r.name() + " (validation)", r.valSteps(), r.valLosses());
                v.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
                v.setMarker(SeriesMarkers.DIAMOND);
                v.setMarkerColor(colour);
            }
        }
        return c;
    }

    /** Each device's peak memory, stacked by tag (each tag's own peak over the run), in MiB. */
    public static CategoryChart memory(MetricsRun run, int width, int height) {
        CategoryChart c = new CategoryChartBuilder().width(width).height(height)
                .title("Peak memory per device by tag: " + run.name()).xAxisTitle("device").yAxisTitle("MiB").build();
        c.getStyler().setStacked(true);
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        List<String> devices = new ArrayList<>();
        Set<String> tags = new LinkedHashSet<>();
        for (int d = 0; d < run.peakByDevice().size(); d++) {
            devices.add("GPU " + d);
            tags.addAll(run.peakByDevice().get(d).keySet());
        }
        for (String tag : tags) {
            List<Double> mib = run.peakByDevice().stream().map(p -> p.getOrDefault(tag, 0L) / 1048576.0).toList();
            c.addSeries(tag, devices, mib);
        }
        return c;
    }

    /**
     * One step per device: for each device a compute row (F / B / W / compute over idle grey) and,
     * under it, a thinner comm row. Drawn as thick line segments, one series per kind, broken by
     * NaN between spans, so XChart's legend names the colours.
     */
    public static XYChart timeline(TraceTimeline t, int width) {
        int n = t.devices().size();
        int height = 140 + 48 * n;
        double span = t.end() - t.start();
        boolean micros = span < 1000;
        double unit = micros ? 1 : 1000;
        XYChart c = new XYChartBuilder().width(width).height(height).title("Step " + t.step() + ", one row per device (simulated time)")
                .xAxisTitle(micros ? "µs from the step's start" : "ms from the step's start").build();
        var st = c.getStyler();
        st.setLegendPosition(Styler.LegendPosition.OutsideS);
        st.setLegendLayout(Styler.LegendLayout.Horizontal);
        st.setChartBackgroundColor(Color.WHITE);
        st.setPlotGridHorizontalLinesVisible(false);
        st.setYAxisMin(-0.6);
        st.setYAxisMax(n - 0.3);
        st.setXAxisMin(0.0);
        st.setXAxisMax(span / unit);
        st.setMarkerSize(0);
        st.setYAxisTicksVisible(false); // each row is named by a label above it
        float computeThickness = (float) Math.max(6, 0.45 * (height - 140) / n), commThickness = computeThickness / 3;
        Segments idle = new Segments();
        Map<TraceTimeline.Kind, Segments> byKind = new EnumMap<>(TraceTimeline.Kind.class);
        for (int d = 0; d < n; d++) {
            TraceTimeline.Device dev = t.devices().get(d);
            double row = n - 1 - d; // device 0 at the top
            c.addAnnotation(new AnnotationText(dev.name(), span / unit / 2, row + 0.5, false));
            idle.add((dev.start() - t.start()) / unit, (dev.end() - t.start()) / unit, row + 0.12);
            for (TraceTimeline.Span s : dev.spans()) {
                double y = s.kind() == TraceTimeline.Kind.COMM ? row - 0.22 : row + 0.12;
                byKind.computeIfAbsent(s.kind(), k -> new Segments()).add((s.start() - t.start()) / unit, (s.end() - t.start()) / unit, y);
            }
        }
        idle.addTo(c, "idle", IDLE, computeThickness);
        // Plain compute first, so that pipeline actions (which contain kernels) are drawn over it.
        for (TraceTimeline.Kind k : List.of(TraceTimeline.Kind.COMPUTE, TraceTimeline.Kind.F, TraceTimeline.Kind.B, TraceTimeline.Kind.W, TraceTimeline.Kind.COMM)) {
            Segments s = byKind.get(k);
            if (s != null) s.addTo(c, k.name().toLowerCase(Locale.ROOT).replace("compute", "compute (kernels)"), COLOURS.get(k),
                    k == TraceTimeline.Kind.COMM ? commThickness : computeThickness);
        }
        return c;
    }

    /** Horizontal segments of one series, separated by NaN points (XChart breaks the line there). */
    private static final class Segments {
        private final List<Double> x = new ArrayList<>(), y = new ArrayList<>();

        void add(double from, double to, double row) {
            x.addAll(List.of(from, to, to));
            y.addAll(List.of(row, row, Double.NaN));
        }

        void addTo(XYChart c, String name, Color colour, float thickness) {
            XYSeries s = c.addSeries(name, x.stream().mapToDouble(Double::doubleValue).toArray(), y.stream().mapToDouble(Double::doubleValue).toArray());
            s.setMarker(SeriesMarkers.NONE);
            s.setLineColor(colour);
            s.setLineStyle(new BasicStroke(thickness, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER));
        }
    }
}
