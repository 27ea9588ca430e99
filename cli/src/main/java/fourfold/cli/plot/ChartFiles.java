package fourfold.cli.plot;

import fourfold.engine.UserError;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.internal.chartpart.IChart;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Writes a chart as PNG and SVG beside each other. */
public final class ChartFiles {
    private ChartFiles() {}

    /** Writes {@code dir/stem.png} and {@code dir/stem.svg}; returns both paths. */
    public static List<Path> write(IChart chart, Path dir, String stem) {
        Path png = dir.resolve(stem + ".png"), svg = dir.resolve(stem + ".svg");
        try {
            Files.createDirectories(dir);
            try (var out = Files.newOutputStream(png)) {
                BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
            }
            try (var out = Files.newOutputStream(svg)) {
                VectorGraphicsEncoder.saveVectorGraphic(chart, out, VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
            }
        } catch (IOException e) {
            throw new UserError("cannot write " + png + " (" + e.getMessage() + "); choose another --out");
        }
        return List.of(png, svg);
    }
}
