package fourfold.bench;

import fourfold.engine.train.Layout;
import fourfold.engine.train.LayoutSpec;
import fourfold.engine.train.StepMetrics;
import fourfold.engine.train.Trainer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;

/**
 * One training step of `tiny` (batch 16 x 64, so that dp 8 divides it; AdamW) per layout of 8 and
 * 16 devices, and on one device:
 * the throughput ratio of a layout to the single device is the ratio of their scores. The
 * trainer runs in its own thread for the whole trial; after each step its listener (rank 0)
 * hands the step's metrics over and waits, and the other ranks wait at their next collective, so
 * an invocation is exactly one step (plus one hand-off), with no cluster start-up.
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar \
 *      org.openjdk.jmh.Main LayoutBench -rf json -rff layout-bench.json
 * </pre>
 * Every device has one worker thread ({@code threads} on the single device, default 2 = the cores
 * this project's machines have), so all layouts use the same cores.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 4) // JIT: a tiny step reaches full speed after ~50 steps
@Measurement(iterations = 5, time = 4)
// CICompilerCount=4: with more devices than cores the rank threads starve the JIT (see ./fourfold)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow", "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
        "-Dchronicle.analytics.disable=true", "-XX:CICompilerCount=4", "-Xmx4g", "-Dbatch=16"})
@State(Scope.Benchmark)
public class LayoutBench {
    /** Layouts in `train --layout` shorthand; "single" is the one-device reference. */
    @Param({"single", "dp8", "dp4,tp2", "dp2,tp4", "dp2,pp2,tp2", "dp2,cp2,tp2", "pp2,cp2,tp2", "dp2,pp2,cp2,tp2"})
    public String layout;
    @Param({"2"})
    public int threads;

    private Trainer trainer;
    private Thread runner;
    private final SynchronousQueue<StepMetrics> done = new SynchronousQueue<>();
    private final SynchronousQueue<Boolean> go = new SynchronousQueue<>();

    /** Ends the trainer's run from its listener. */
    private static final class Stop extends RuntimeException {
        Stop() {
            super("benchmark over", null, false, false);
        }
    }

    @Setup(Level.Trial)
    public void start() throws InterruptedException {
        LayoutSpec spec = LayoutSpec.parse("layout", layout);
        Layout l = spec.layout(0, spec.pp() > 1 ? 2 * spec.pp() : 1, false); // 1F1B with 2 micro-batches per stage
        int perDevice = spec.devices() == 1 ? threads : 1;
        trainer = new Trainer(LayoutSweep.options("tiny", 1_000_000), l, new Trainer.Hardware(perDevice, 256L << 20, "cpu-local", null));
        runner = new Thread(() -> {
            try {
                trainer.train(m -> {
                    try {
                        done.put(m);
                        if (!go.take()) throw new Stop();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new Stop();
                    }
                }, null, 0);
            } catch (RuntimeException e) {
                // the Stop thrown on purpose, wrapped by the cluster
            }
        }, "layout-bench-trainer");
        runner.start();
        done.take(); // the first step (cluster start-up, cold code) is not measured
    }

    @Benchmark
    public double step() throws InterruptedException {
        go.put(true);
        return done.take().loss();
    }

    @TearDown(Level.Trial)
    public void stop() throws InterruptedException {
        go.put(false);
        runner.join();
        trainer.close();
    }
}
