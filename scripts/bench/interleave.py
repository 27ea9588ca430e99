#!/usr/bin/env python3
"""Interleaved training benchmark: alternates bursts of training steps between programs.

    scripts/bench/interleave.py [--burst 10] [--rounds 40] [--warmup 8] SIDE...

A SIDE is NAME=SPEC with SPEC one of
    torch:THREADS[:MODEL]  PyTorch, scripts/bench/torch_train.py --serve (default MODEL: tiny)
    MODEL:LAYOUT[:PROPS]   fourfold, fourfold.bench.StepServer (LAYOUT as LayoutSweep: dp1-t2, dp2-z3-t1, ...);
                           PROPS: JVM options for this side only, comma-separated (-Dfourfold.spinMicros=0),
                           and jar=PATH to run another build's benchmarks.jar (before/after comparisons)
MODEL is PRESET[@BATCHxSEQ], e.g. small@8x256; without @ both sides train batches of 12 rows of the
preset's longest sequence (tiny: 12 x 64).
e.g.
    scripts/bench/interleave.py ff=tiny:dp1-t2 torch=torch:1
    scripts/bench/interleave.py ff=small@8x256:dp1-t2 t1=torch:1:small@8x256 t2=torch:2:small@8x256
    scripts/bench/interleave.py dp1x2=tiny:dp1-t2 dp2x1=tiny:dp2-t1

All sides start (one after another) and stay alive; each round then runs one burst of every
side in turn while the others wait blocked on a pipe, so only one program computes at a time.
This machine's speed drifts over seconds (a co-tenant on the host), so bursts taken back to back
see the same machine: the ratio of two sides is computed per round and its median is reported
(with quartiles), next to each side's median tokens/s. The first --warmup rounds (JIT, caches)
are dropped. The side order alternates every round so that neither side always runs first.
Each burst also records the CPU time (user + system, from /proc) that its side used and that the
waiting sides used meanwhile, in cores (CPU seconds per wall second): a waiting side that burns
CPU (spinning threads, JIT, GC) would slow the running one, so the harness itself is checked.
Output: a markdown table on stdout (and --json FILE with every burst).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
JAVA_FLAGS = ["--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
              "--sun-misc-unsafe-memory-access=allow", "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
              "-Dchronicle.analytics.disable=true"]
# as ./fourfold does on machines of up to 4 cores: enough JIT compiler threads for many-device layouts
if (os.cpu_count() or 1) <= 4:
    JAVA_FLAGS.append("-XX:CICompilerCount=4")


def java_home():
    out = subprocess.run(["bash", "-c", ". scripts/jdk25.sh && find_jdk25 >/dev/null && echo $JAVA_HOME"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def model(spec):
    """PRESET[@BATCHxSEQ] -> (preset, batch, seq); seq 0 stands for the preset's longest sequence."""
    preset, _, shape = spec.partition("@")
    if not shape:
        return preset, 12, 0
    batch, _, seq = shape.partition("x")
    if not (batch.isdigit() and seq.isdigit() and int(batch) > 0 and int(seq) > 0):
        sys.exit("interleave.py: '%s' is not PRESET@BATCHxSEQ (e.g. small@8x256)" % spec)
    return preset, int(batch), int(seq)


def command(spec, burst):
    kind, _, arg = spec.partition(":")
    arg, _, props = arg.partition(":")
    if kind == "torch":
        preset, batch, seq = model(props or "tiny")
        return ["/usr/bin/python3", os.path.join(ROOT, "scripts/bench/torch_train.py"), "--serve", str(burst),
                "--threads", arg, "--preset", preset, "--batch", str(batch), "--seq", str(seq)]
    kind, batch, seq = model(kind)
    shape = ["-Dbatch=%d" % batch, "-Dseq=%d" % seq] if seq else []  # else LayoutSweep's defaults (or BENCH_OPTS)
    opts = shape + [p for p in props.split(",") if p and not p.startswith("jar=")]
    jar = next((p[4:] for p in props.split(",") if p.startswith("jar=")), os.path.join(ROOT, "bench/target/benchmarks.jar"))
    if not os.path.exists(jar):
        sys.exit("interleave.py: %s is missing; build it: mvn -B -q -DskipTests install" % jar)
    return [os.path.join(java_home(), "bin/java")] + JAVA_FLAGS + os.environ.get("BENCH_OPTS", "").split() + opts + [
        "-cp", jar, "fourfold.bench.StepServer", kind, arg, str(burst)]


class Side:
    def __init__(self, name, spec, burst):
        self.name, self.spec = name, spec
        env = dict(os.environ)
        for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
            env.pop(k, None)
        self.proc = subprocess.Popen(command(spec, burst), cwd=ROOT, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.bursts = []  # tokens/s per burst
        self.own_cores = []  # CPU seconds / wall seconds of this side during its bursts
        self.others_cores = []  # the same for all waiting sides together during its bursts
        self.memory = None

    def cpu_seconds(self):
        """User + system CPU time of the side's process (all its threads) so far."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def wait_burst(self):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                sys.exit("interleave.py: side %s (%s) ended unexpectedly (exit %s)" % (self.name, self.spec, self.proc.wait()))
            if line.startswith("burst "):
                _, seconds, tokens = line.split()
                return float(tokens) / float(seconds)

    def go(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return self.wait_burst()

    def stop(self):
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith("memory "):
                self.memory = line[len("memory "):].strip()
        self.proc.wait()


def quartiles(v):
    s = sorted(v)
    return s[len(s) // 4], statistics.median(s), s[(3 * len(s)) // 4]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--burst", type=int, default=10, help="training steps per burst (default 10)")
    ap.add_argument("--rounds", type=int, default=40, help="measured rounds (default 40)")
    ap.add_argument("--warmup", type=int, default=8, help="rounds dropped first (default 8)")
    ap.add_argument("--json", help="write every burst here")
    ap.add_argument("sides", nargs="+", metavar="NAME=SPEC")
    args = ap.parse_args()
    sides = []
    try:
        for s in args.sides:
            name, _, spec = s.partition("=")
            side = Side(name, spec, args.burst)
            side.wait_burst()  # its first burst, alone; then it waits
            sides.append(side)
        for r in range(args.warmup + args.rounds):
            order = sides if r % 2 == 0 else sides[::-1]
            speeds, own, others = {}, {}, {}
            for s in order:
                before = {x.name: x.cpu_seconds() for x in sides}
                t0 = time.monotonic()
                speeds[s.name] = s.go()
                wall = time.monotonic() - t0
                after = {x.name: x.cpu_seconds() for x in sides}
                own[s.name] = (after[s.name] - before[s.name]) / wall
                others[s.name] = sum(after[x.name] - before[x.name] for x in sides if x is not s) / wall
            if r >= args.warmup:
                for s in sides:
                    s.bursts.append(speeds[s.name])
                    s.own_cores.append(own[s.name])
                    s.others_cores.append(others[s.name])
    finally:
        for s in sides:
            if s.proc.poll() is None:
                s.stop()
    base = sides[0]
    print("%d rounds of %d steps per side (after %d warm-up rounds), ratio = side / %s per round" % (
        args.rounds, args.burst, args.warmup, base.name))
    print()
    print("| side | spec | tokens/s (median) | q1..q3 | ratio to %s (median) | ratio q1..q3 | its CPU (cores) | waiting sides' CPU (cores) | peak memory per device |" % base.name)
    print("|---|---|---|---|---|---|---|---|---|")
    for s in sides:
        q1, med, q3 = quartiles(s.bursts)
        ratios = [a / b for a, b in zip(s.bursts, base.bursts)]
        r1, rm, r3 = quartiles(ratios)
        print("| %s | `%s` | %s | %s..%s | %.2f | %.2f..%.2f | %.2f | %.3f | %s |" % (
            s.name, s.spec, f"{med:,.0f}", f"{q1:,.0f}", f"{q3:,.0f}", rm, r1, r3,
            statistics.median(s.own_cores), statistics.median(s.others_cores), s.memory or ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"burst": args.burst, "rounds": args.rounds, "warmup": args.warmup,
                       "sides": {s.name: {"spec": s.spec, "tokens_per_s": s.bursts, "own_cores": s.own_cores,
                                          "waiting_sides_cores": s.others_cores, "memory": s.memory} for s in sides}}, f)


if __name__ == "__main__":
    main()
