#!/usr/bin/env bash
# Packs the GEMM benchmark for an x86-64 Linux machine that has no JDK (a cloud host, a bigger
# box with AVX-512): a jlink'd Java 25 runtime, bench/target/benchmarks.jar, this machine's
# OpenBLAS (the same library as the reference here, with its Fortran runtime) and a runner.
#
#   scripts/bench/portable.sh DIR            writes DIR (about 45 MB; xz-compressed runtime and library)
#
# Then, on the other machine (copy DIR there):
#   DIR/run-gemm.sh [case...]                GemmBench$Interleaved against OpenBLAS, one table with ratios
#   DIR/tune-gemm.sh                         run-gemm.sh once per GEMM block size (see tune-gemm.sh)
# Environment of run-gemm.sh: SECS (measured seconds per case, default 4), JAVA_OPTS (extra JVM
# options, e.g. -Dfourfold.gemm.tile=6x2), OPENBLAS_CORETYPE (OpenBLAS 0.3.21 does not recognise
# some virtualised Xeons and falls back to a generic kernel at a tenth of its speed: set SkylakeX
# or Haswell there, and say so next to the figures). It prints the CPU, the JVM's vector width, then the table.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/jdk25.sh
find_jdk25
dir="${1:?usage: scripts/bench/portable.sh DIR}"
jar=bench/target/benchmarks.jar
[ -f "$jar" ] || ./mvnw -B -o -q -pl bench -am package -DskipTests
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libopenblas.so.0 2>/dev/null || true)
[ -f "$blas" ] || { echo "portable.sh: libopenblas.so.0 not found (apt-get install libopenblas0-pthread)" >&2; exit 1; }

mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
modules=$("$JAVA_HOME/bin/jdeps" --ignore-missing-deps --print-module-deps --multi-release 25 "$jar" 2>/dev/null | tail -1)
"$JAVA_HOME/bin/jlink" --add-modules "$modules,jdk.management" --strip-debug --no-header-files --no-man-pages \
  --compress zip-9 --output "$tmp/jrt" 2>&1 | grep -v 'incubator modules' || true
strip --strip-unneeded "$tmp"/jrt/lib/server/libjvm.so "$tmp"/jrt/lib/*.so 2>/dev/null || true
tar cf - -C "$tmp" jrt | xz -T0 -6 > "$dir/jrt.tar.xz"
mkdir -p "$tmp/lib"
cp "$blas" "$tmp/lib/libopenblas.so.0"
for dep in $(ldd "$blas" | awk '/libgfortran|libquadmath/ {print $3}'); do cp -L "$dep" "$tmp/lib/"; done
tar cf - -C "$tmp" lib | xz -T0 -6 > "$dir/lib.tar.xz"
cp "$jar" "$dir/benchmarks.jar"
cat > "$dir/run-gemm.sh" <<'EOF'
#!/usr/bin/env bash
# fourfold GEMM vs OpenBLAS, interleaved call by call (made by scripts/bench/portable.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${TMPDIR:-/tmp}/fourfold-portable"
mkdir -p "$work"
[ -x "$work/jrt/bin/java" ] || tar xJf "$here/jrt.tar.xz" -C "$work"
[ -f "$work/lib/libopenblas.so.0" ] || tar xJf "$here/lib.tar.xz" -C "$work"
export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
java=("$work/jrt/bin/java" --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED
      --sun-misc-unsafe-memory-access=allow --add-exports=java.base/jdk.internal.ref=ALL-UNNAMED -Dchronicle.analytics.disable=true)
lscpu | grep -E '^Model name|^CPU\(s\)' || true
grep -q avx512f /proc/cpuinfo && echo "avx512f: yes" || echo "avx512f: no"
"${java[@]}" -XX:+PrintFlagsFinal -version 2>/dev/null | grep -E ' UseAVX | MaxVectorSize ' || true
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} JAVA_OPTS=${JAVA_OPTS:-}"
"${java[@]}" ${JAVA_OPTS:-} -Dseconds="${SECS:-4}" -cp "$here/benchmarks.jar" 'fourfold.bench.GemmBench$Interleaved' "$@" 2>&1 \
  | grep -v -e 'WARNING' -e 'chronicle' -e 'Chronicle'
EOF
chmod +x "$dir/run-gemm.sh"
cp scripts/bench/tune-gemm.sh "$dir/tune-gemm.sh"
du -sh "$dir"
