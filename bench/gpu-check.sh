#!/usr/bin/env bash
# bench/gpu-check.sh: the whole GPU check in one unattended run, for a GPU machine with no JDK.
#
#   bench/gpu-check.sh OUTDIR [--bundle DIR|FILE.tar.gz] [--budget SECONDS] [--quick]
#
# Uses the GPU bundle (bench/bundle-gpu.sh; default: dist/deephash-gpu.tar.gz, then
# dist/deephash-gpu/ beside this checkout). In order, every step under its own time limit so that
# one hang cannot eat the rest (the whole run stays inside --budget, default 530 s):
#   1. the machine: GPU, driver, clocks, CPU flags, the libcublas it finds (ENGINE_CUBLAS_DIR is set
#      to that folder unless already set);
#   2. on the CPU cores, in the background: the native backend's parity tests for every SIMD tier
#      the CPU has (NativeBackendTest, ParityTest);
#   3. .ci/gpu --bundle: CudaParityGpuIT with the GPU required and the backend forced, then the
#      verified bench smoke;
#   4. the benchmark matrix: engine-cli bench --backend cuda --json (every run checked against the
#      scalar oracle first): 1M codes x 64/128/256 bits x 1/100/1000/10000 queries (k=10); k=1000,
#      k=10000; radius; the histogram selection path for comparison; coarse-to-fine m=1000 d=128;
#      10M and 100M codes at 64 bits; then --backend native at 64 and 256 bits on this host;
#   5. the summary table (bench/gpu_summary.py): kernel and end-to-end times, share of the POPC floor.
# OUTDIR receives at most 8 files: environment.txt, check.log, ci.log, native.log, junit.tar.gz,
# bench.jsonl, summary.txt, kernels.txt (the device's cuobjdump on the cubin, where it has one).
# Never waits for input.
# Exit status: 0 every step passed; 1 a step failed (the others still ran); 2 no usable GPU or bad
# arguments (nothing run). GPU_CHECK_REHEARSAL=1 runs the flow on the CPU with the native backend
# and small sizes, to test this script where no GPU is.
set -uo pipefail

HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BUNDLE=""
BUDGET=530
# each bench phase warms up for its runs and 2 s, then while the JIT still compiles up to this many
# seconds (engine-cli's default, 30, could take a quarter of the budget on a slow JIT)
WARMUP_MAX=5
QUICK=0
REHEARSAL="${GPU_CHECK_REHEARSAL:-0}"

usage() { sed -n '2,25p' "$0"; }
[[ $# -ge 1 && "$1" != -* ]] || { usage >&2; echo "gpu-check: OUTDIR is required" >&2; exit 2; }
OUTDIR=$1
shift
while (( $# > 0 )); do
  case "$1" in
    --bundle) BUNDLE=${2:?--bundle needs a folder or .tar.gz}; shift 2 ;;
    --budget) BUDGET=${2:?--budget needs seconds}; shift 2 ;;
    --quick) QUICK=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$BUDGET" =~ ^[0-9]+$ ]] || { echo "gpu-check: --budget must be whole seconds (was '$BUDGET')" >&2; exit 2; }

mkdir -p "$OUTDIR" || exit 2
OUTDIR="$(cd "$OUTDIR" && pwd)"
START=$(date +%s)
# the JVM sizes its default heap from MemTotal, which starts low on some GPU machines
export JAVA_OPTS="${JAVA_OPTS:--Xmx32g}"
exec > >(tee "$OUTDIR/check.log") 2>&1
say() { echo "gpu-check [$(( $(date +%s) - START ))s]: $*" >&2; }
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
FAILED=()

# Runs "$@" with at most min($1, time left - reserve) seconds; records a failure under the name $2.
step() {
  local limit=$1 name=$2
  shift 2
  local avail=$(( $(left) - 25 ))   # keep time for the summary
  (( avail < limit )) && limit=$avail
  if (( limit < 5 )); then
    say "SKIPPED $name: out of time"
    FAILED+=("$name (skipped: out of time)")
    return 1
  fi
  timeout --kill-after=5 "$limit" "$@"
  local rc=$?
  if (( rc != 0 )); then
    (( rc == 124 || rc == 137 )) && say "$name: stopped after ${limit}s" || say "$name: exit status $rc"
    FAILED+=("$name (rc $rc)")
  fi
  return $rc
}

# --- 1. the machine ------------------------------------------------------------------------
ENV="$OUTDIR/environment.txt"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(hostname) ($(uname -srm))"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
  echo "cpu simd: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512bw|avx512vl|avx512_vpopcntdq|popcnt)$' | paste -sd' ')"
  echo "memory: $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "glibc: $(ldd --version 2>&1 | head -1)"
} >"$ENV"
if (( ! REHEARSAL )); then
  if ! command -v nvidia-smi >/dev/null 2>&1 && ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; then
    say "no usable GPU: neither nvidia-smi nor the driver library libcuda.so.1 is here (run this on a GPU machine)"
    echo "verdict: no GPU" >>"$ENV"
    exit 2
  fi
  gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.sm,compute_cap,persistence_mode \
    --format=csv,noheader 2>&1)
  if [[ $? -ne 0 || -z "$gpu" ]]; then
    say "no usable GPU: nvidia-smi says: $gpu"
    echo "verdict: no GPU ($gpu)" >>"$ENV"
    exit 2
  fi
  echo "gpu: $gpu" >>"$ENV"
  echo "cuda driver api: $(nvidia-smi | grep -o 'CUDA Version: [0-9.]*' | head -1)" >>"$ENV"
  echo "gpu sms: $(nvidia-smi -q 2>/dev/null | grep -m1 -i 'multiprocessor' || echo '(not listed by nvidia-smi; engine-cli reports it)')" >>"$ENV"
fi
# one pass over the file system for the libraries the engine binds (the driver may sit on a separate mount)
mapfile -t libs < <(timeout 90 find / \( -path /proc -o -path /sys -o -path /dev -o -path "$OUTDIR" \) -prune -o \
  \( -name 'libcublas.so.1[0-9]*' -o -name 'libcuda.so.1' \) -print 2>/dev/null | sort)
cublas=()
for f in "${libs[@]}"; do [[ "$f" == */libcublas.so.* ]] && cublas+=("$f"); done
if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then
  for f in "${libs[@]}"; do
    if [[ "$f" == */libcuda.so.1 ]]; then
      export LD_LIBRARY_PATH="$(dirname "$f")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      echo "libcuda.so.1 is not in the loader cache: LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >>"$ENV"
      break
    fi
  done
fi
echo "libcublas found: ${cublas[*]:-none}" >>"$ENV"
if [[ -z "${ENGINE_CUBLAS_DIR:-}" ]]; then
  for want in 'libcublas.so.13$' 'libcublas.so.12$'; do
    for f in "${cublas[@]}"; do
      if [[ "$f" =~ $want ]]; then ENGINE_CUBLAS_DIR=$(dirname "$f"); break 2; fi
    done
  done
fi
[[ -n "${ENGINE_CUBLAS_DIR:-}" ]] && export ENGINE_CUBLAS_DIR
echo "ENGINE_CUBLAS_DIR: ${ENGINE_CUBLAS_DIR:-(none)}" >>"$ENV"
cat "$ENV"

# --- the bundle -----------------------------------------------------------------------------
if [[ -z "$BUNDLE" ]]; then
  for b in "$ROOT/dist/deephash-gpu.tar.gz" "$ROOT/dist/deephash-gpu"; do
    [[ -e "$b" ]] && { BUNDLE=$b; break; }
  done
fi
[[ -n "$BUNDLE" && -e "$BUNDLE" ]] || { say "no GPU bundle: make one with bench/bundle-gpu.sh (or pass --bundle)"; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
if [[ -f "$BUNDLE" ]]; then
  tar -C "$WORK" -xzf "$BUNDLE" || { say "cannot unpack $BUNDLE"; exit 2; }
  B="$WORK/deephash-gpu"
else
  B="$(cd "$BUNDLE" && pwd)"
fi
[[ -x "$B/bin/engine-cli" && -x "$B/runtime/bin/java" ]] || { say "$BUNDLE is not a GPU bundle"; exit 2; }
echo "java: $("$B/runtime/bin/java" -version 2>&1 | head -1)" >>"$ENV"
CLI="$B/bin/engine-cli"
JAVA_FLAGS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow
  "-Djava.library.path=$B/lib/native")
TEST_CP="$(ls "$B"/lib/*.jar "$B"/tests/deephash-*-tests.jar | paste -sd:)"
mkdir -p "$WORK/junit/native"

# --- 2. native parity per SIMD tier (CPU cores, in the background) ---------------------------
say "native backend parity tests per SIMD tier, in the background ..."
(
  step 300 "native parity" "$B/runtime/bin/java" "${JAVA_FLAGS[@]}" -jar "$B"/tests/junit-platform-console-standalone-*.jar \
    execute --class-path "$TEST_CP" --select-class org.deephash.backend.nativ.NativeBackendTest \
    --select-class org.deephash.ParityTest --fail-if-no-tests --details=tree --disable-banner \
    --reports-dir="$WORK/junit/native"
  echo "native parity exit status: $?"
) >"$OUTDIR/native.log" 2>&1 &
NATIVE_PID=$!

# --- 3. .ci/gpu from the bundle -------------------------------------------------------------
if (( REHEARSAL )); then
  say "rehearsal: .ci/gpu skipped (it needs a GPU)"
else
  say ".ci/gpu --bundle (CudaParityGpuIT, GPU required, then the verified bench smoke) ..."
  if ! step 330 ".ci/gpu" bash "$ROOT/.ci/gpu" --bundle "$B" --artifacts "$WORK/ci" --n 1000000 \
      && command -v compute-sanitizer >/dev/null 2>&1; then
    # a failure on the GPU: look for bad memory accesses on a small run (kept in ci.log)
    say "compute-sanitizer memcheck on a small bench ..."
    step 120 "memcheck" compute-sanitizer --tool memcheck --print-limit 20 "$CLI" bench --backend cuda --n 20000 \
      --queries 40 --k 10 --dim 16 --pool 100 --runs 1 --warmup 0 --verify 4 --es-queries 4 >>"$WORK/ci/ci.log" 2>&1
  fi
  cp "$WORK/ci/ci.log" "$OUTDIR/ci.log" 2>/dev/null
  grep -h -E 'Tests run|tests (successful|failed|found)|FAILED|PASSED' "$WORK/ci/ci.log" 2>/dev/null | tail -8
fi
# the kernels as the device's tools see them: registers, spills, instruction mix of the scans
if command -v cuobjdump >/dev/null 2>&1; then
  cubin=$(ls "$B"/kernels/deephash_kernels.sm_90.cubin 2>/dev/null)
  {
    cuobjdump --dump-resource-usage "$cubin" 2>&1
    for f in dh_scan_bound_w1 dh_scan_bound_w4 dh_scan_hist_w1; do
      echo "== $f: instruction mix"
      cuobjdump --dump-sass --function "$f" "$cubin" 2>&1 | grep -oE '/\*[0-9a-f]{4}\*/ +(@!?U?P[0-9T] +)?[A-Z][A-Z0-9_.]*' \
        | awk '{print $NF}' | sed 's/\..*//' | sort | uniq -c | sort -rn | head -25
    done
  } >"$OUTDIR/kernels.txt" 2>&1
fi
wait "$NATIVE_PID"
tail -16 "$OUTDIR/native.log" | grep -E 'tests (successful|failed|found)|exit status'
grep -q 'native parity exit status: 0' "$OUTDIR/native.log" || FAILED+=("native parity")

# --- 4. the benchmark matrix ----------------------------------------------------------------
JSONL="$OUTDIR/bench.jsonl"
: >"$JSONL"
BACKEND=cuda
M=1000000
(( REHEARSAL )) && { BACKEND=native; M=100000; }
bench() { # bench LABEL LIMIT [JVM -D options] ARGS...: one JSON line, tagged with LABEL
  local label=$1 limit=$2
  shift 2
  local d=()
  while [[ "${1:-}" == -D* ]]; do d+=("$1"); shift; done
  say "bench $label: $*"
  local out rc line
  out=$(step "$limit" "bench $label" "$CLI" "${d[@]}" bench --json --warmup-max "$WARMUP_MAX" "$@")
  rc=$?
  (( rc == 0 )) || FAILED+=("bench $label (rc $rc)")
  line=$(tail -1 <<<"$out")
  if [[ "$line" == '{'* ]]; then
    echo "{\"label\":\"$label\",${line#\{}" >>"$JSONL"
    grep -q '"verified":true' <<<"$line" || FAILED+=("bench $label (not verified)")
  fi
}
smi() { (( REHEARSAL )) || nvidia-smi --query-gpu=clocks.sm,clocks.max.sm,power.draw,temperature.gpu,utilization.gpu --format=csv,noheader; }
echo "gpu state before the matrix: $(smi)" >>"$ENV"
QS=(1 100 1000 10000)
(( QUICK )) && QS=(1 1000)
for bits in 64 128 256; do
  for q in "${QS[@]}"; do
    runs=7
    (( q == 1 )) && runs=31
    bench "bcs-${bits}b-q${q}" 60 --backend $BACKEND --n $M --bits $bits --queries $q --k 10 --dim 0 --runs $runs --warmup 2
  done
done
bench "bcs-64b-q1000-histogram" 60 -Ddeephash.cuda.selection=histogram --backend $BACKEND --n $M --bits 64 --queries 1000 --k 10 --dim 0
bench "k1000-64b" 60 --backend $BACKEND --n $M --bits 64 --queries 1000 --k 1000 --dim 0 --verify 10
bench "k10000-64b" 90 --backend $BACKEND --n $M --bits 64 --queries 1000 --k 10000 --pool 10000 --dim 0 --verify 5 --runs 5
bench "radius16-64b" 60 --backend $BACKEND --n $M --bits 64 --queries 1000 --k 1000 --radius 16 --dim 0
bench "hds-64b-m1000-d128" 120 --backend $BACKEND --n $M --bits 64 --queries 1000 --k 10 --pool 1000 --dim 128 --verify 10 --verify-l2 3 --es-queries 20 --runs 5 --warmup 1
if (( ! QUICK )); then
  bench "bcs-64b-10M" 90 --backend $BACKEND --n $((M * 10)) --bits 64 --queries 1000 --k 10 --dim 0 --verify 3 --runs 5 --warmup 1
  bench "bcs-64b-100M" 150 --backend $BACKEND --n $((M * 100)) --bits 64 --queries 1000 --k 10 --dim 0 --verify 1 --runs 3 --warmup 1
fi
echo "gpu state after the matrix: $(smi)" >>"$ENV"
# the same host's CPU cores, side by side
bench "native-64b" 90 --backend native --n $M --bits 64 --queries 1000 --k 10 --dim 128 --pool 1000 --verify 10 --verify-l2 3 --es-queries 20 --runs 5 --warmup 1
bench "native-256b" 60 --backend native --n $M --bits 256 --queries 1000 --k 10 --dim 0 --runs 5 --warmup 1

# --- 5. artefacts and summary ---------------------------------------------------------------
(cd "$WORK" && find . -name '*.xml' -path '*junit*' -o -name 'TEST-*.xml' | tar -czf "$OUTDIR/junit.tar.gz" -T - 2>/dev/null)
python3 "$HERE/gpu_summary.py" "$JSONL" "$ENV" >"$OUTDIR/summary.txt" 2>&1 || FAILED+=("summary")
{
  echo
  if (( ${#FAILED[@]} == 0 )); then echo "verdict: PASSED"; else printf 'verdict: FAILED: %s\n' "$(IFS=';'; echo "${FAILED[*]}")"; fi
  echo "elapsed: $(( $(date +%s) - START )) s"
} >>"$OUTDIR/summary.txt"
cat "$OUTDIR/summary.txt"
rm -rf "$WORK"
(( ${#FAILED[@]} == 0 ))
