#!/usr/bin/env bash
# bench/bundle-gpu.sh: a self-contained deephash bundle for GPU nodes (no JDK, Maven or internet
# needed there; only the NVIDIA driver, and libcublas for the coarse-to-fine re-rank).
#
#   bench/bundle-gpu.sh [OUT_DIR]        default OUT_DIR: dist/
#
# Makes OUT_DIR/deephash-gpu/ and OUT_DIR/deephash-gpu.tar.gz (checked to be under 64 MiB):
#   runtime/      a jlink image of JDK 25 (java.base, jdk.unsupported, java.logging, java.xml,
#                 jdk.incubator.vector and whatever else jdeps finds the jars need)
#   lib/          the engine jars (core, cuda, cli) and JCuda's Java jars
#   lib/native/   JCuda's linux-x86_64 native libraries (driver and cuBLAS bindings only)
#   kernels/      the PTX and cubins (also inside deephash-cuda.jar, which is what is loaded)
#   tests/        the GPU parity tests and the JUnit console launcher
#   bin/engine-cli      the command line (bench, search, ...)
#   bin/gpu-parity      runs the GPU parity tests (CudaParityGpuIT) on this node
# Needs: JDK 25 (JAVA_HOME), Maven, and nvcc at build time (without nvcc the jar has no kernels
# and this script refuses to bundle it).
set -euo pipefail

ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
OUT="$(mkdir -p "${1:-$ROOT/dist}" && cd "${1:-$ROOT/dist}" && pwd)"
B="$OUT/deephash-gpu"
LIMIT=$((64 * 1024 * 1024))
JCUDA_VERSION=12.6.0
JUNIT_CONSOLE=1.11.4

die() { echo "bundle-gpu: $*" >&2; exit 1; }

: "${JAVA_HOME:=/usr/lib/jvm/temurin-25-jdk-amd64}"
[[ -x "$JAVA_HOME/bin/jlink" ]] || die "no jlink in JAVA_HOME=$JAVA_HOME: set JAVA_HOME to a JDK 25"
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
command -v mvn >/dev/null || die "Maven (mvn) is needed to build the jars"

echo "bundle-gpu: building the jars (mvn -DskipTests package) ..." >&2
(cd "$ROOT" && mvn -B -q -DskipTests package -pl java/cuda,java/cli -am >&2)

CUDA_JAR=$(ls "$ROOT"/java/cuda/target/deephash-cuda-*.jar | grep -v -- '-tests.jar' | head -1)
unzip -l "$CUDA_JAR" | grep -q 'org/deephash/cuda/kernels/kernels.list' \
  || die "$CUDA_JAR has no kernels (nvcc was not found at build time): install the CUDA toolkit and rebuild"

rm -rf "$B"
mkdir -p "$B"/{bin,lib/native,kernels,tests}

# Jars: the run-time class paths of the CLI and of the CUDA module, without native-only jars.
{ tr ':' '\n' <"$ROOT/java/cli/target/classpath.txt"; echo; tr ':' '\n' <"$ROOT/java/cuda/target/classpath.txt"; echo; } \
  | sort -u | while read -r jar; do
    [[ -f "$jar" && "$jar" == *.jar ]] || continue   # sibling modules may appear as class folders: added below
    case "$(basename "$jar")" in
      jcuda-natives-*|jcublas-natives-*) ;;          # unpacked below, only the libraries we use
      tensorflow-*|deephash-model-*|deephash-serve-*|deephash-delf-*|deephash-spark-*|protobuf-java-*|javacpp-*|ndarray-*)
        echo "bundle-gpu: leaving out $(basename "$jar") (the model, DELF, Spark and the HTTP service are not part of the GPU bundle)" >&2 ;;
      *) cp "$jar" "$B/lib/" ;;
    esac
  done
for m in core cuda cli-api cli; do
  j=$(ls "$ROOT"/java/$m/target/deephash-$m-[0-9]*.jar | grep -v -- '-tests.jar' | head -1)
  cp "$j" "$B/lib/"
done

# JCuda natives: the driver and cuBLAS bindings (not the 24 MB PTX compiler: kernels are prebuilt).
M2="${MAVEN_REPO:-$HOME/.m2/repository}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unzip -q -o "$M2/org/jcuda/jcuda-natives/$JCUDA_VERSION/jcuda-natives-$JCUDA_VERSION-linux-x86_64.jar" 'lib/*' -d "$tmp"
unzip -q -o "$M2/org/jcuda/jcublas-natives/$JCUDA_VERSION/jcublas-natives-$JCUDA_VERSION-linux-x86_64.jar" 'lib/*' -d "$tmp"
for l in JCudaDriver JCudaRuntime JCublas2; do
  cp "$tmp/lib/lib$l-$JCUDA_VERSION-linux-x86_64.so" "$B/lib/native/"
done

unzip -q -o "$CUDA_JAR" 'org/deephash/cuda/kernels/*' -d "$tmp/k"
cp "$tmp"/k/org/deephash/cuda/kernels/* "$B/kernels/"

# Tests: the parity suite (core test jar), the GPU ITs (cuda test jar), JUnit and the console launcher.
cp "$ROOT"/java/core/target/deephash-core-*-tests.jar "$ROOT"/java/cuda/target/deephash-cuda-*-tests.jar "$B/tests/"
(cd "$ROOT" && mvn -B -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:$JUNIT_CONSOLE \
  -DoutputDirectory="$B/tests" >&2)

# The runtime: the modules jdeps finds, plus the ones the engine always needs.
mods=$(jdeps --ignore-missing-deps --print-module-deps --multi-release 25 --class-path "$B/lib/*" "$B"/lib/*.jar 2>/dev/null || true)
[[ "$mods" =~ ^[a-z0-9.,]*$ ]] || { echo "bundle-gpu: jdeps said: $mods (using the base modules)" >&2; mods=""; }
mods="java.base,jdk.unsupported,java.logging,jdk.incubator.vector,java.xml${mods:+,$mods}"  # java.xml: JUnit XML reports
mods=$(echo "$mods" | tr ',' '\n' | sort -u | paste -sd, -)
echo "bundle-gpu: jlink modules: $mods" >&2
jlink --add-modules "$mods" --strip-debug --no-man-pages --no-header-files --compress=zip-9 --output "$B/runtime"

cat >"$B/bin/engine-cli" <<'LAUNCHER'
#!/usr/bin/env bash
# deephash engine-cli from the GPU bundle. JVM options (-D..., -X...) may precede the command.
set -euo pipefail
D="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
opts=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow
  "-Djava.library.path=$D/lib/native")
while (( $# > 0 )) && [[ "$1" == -D* || "$1" == -X* ]]; do opts+=("$1"); shift; done
# shellcheck disable=SC2206
opts+=(${JAVA_OPTS:-})
exec "$D/runtime/bin/java" "${opts[@]}" -cp "$D/lib/*" org.deephash.cli.EngineCli "$@"
LAUNCHER

cat >"$B/bin/gpu-parity" <<'LAUNCHER'
#!/usr/bin/env bash
# Runs the GPU parity tests (scalar oracle vs CUDA) on this node; exit status 0 only when they ran
# on the GPU and passed (without a usable GPU they are reported as skipped, with the reasons).
set -euo pipefail
D="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
exec "$D/runtime/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  --sun-misc-unsafe-memory-access=allow "-Djava.library.path=$D/lib/native" ${JAVA_OPTS:-} \
  -jar "$D"/tests/junit-platform-console-standalone-*.jar execute \
  --class-path "$(ls "$D"/lib/*.jar "$D"/tests/deephash-*-tests.jar | paste -sd:)" \
  --select-class org.deephash.backend.cuda.CudaParityGpuIT --fail-if-no-tests --details=summary "$@"
LAUNCHER
chmod +x "$B/bin/engine-cli" "$B/bin/gpu-parity"
cp "$ROOT/bench/gpu_summary.py" "$B/bin/"
cp "$ROOT/docs/GPU.md" "$B/" 2>/dev/null || true

tar -C "$OUT" -czf "$OUT/deephash-gpu.tar.gz" deephash-gpu
size=$(stat -c %s "$OUT/deephash-gpu.tar.gz")
echo "bundle-gpu: $OUT/deephash-gpu.tar.gz: $((size / 1024 / 1024)) MiB ($(du -sh "$B" | cut -f1) unpacked)" >&2
(( size < LIMIT )) || die "the bundle is $size bytes, over the 64 MiB limit"
"$B/runtime/bin/java" --add-modules jdk.incubator.vector -cp "$B/lib/*" org.deephash.cli.EngineCli help >/dev/null \
  || die "the bundled runtime cannot start engine-cli"
echo "$OUT/deephash-gpu.tar.gz"
