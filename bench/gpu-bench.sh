#!/usr/bin/env bash
# bench/gpu-bench.sh: GPU parity tests and the CUDA benchmark matrix, on a GPU node.
#
#   bench/gpu-bench.sh [--out FILE] [--quick]
#
# Runs from the GPU bundle (deephash-gpu/bin/gpu-bench.sh, made by bench/bundle-gpu.sh) or from a
# source checkout (then JDK 25 and Maven are needed). Steps:
#   1. the GPU parity tests (CudaParityGpuIT; a missing GPU fails them instead of skipping)
#   2. engine-cli bench --backend cuda --json on 1M random codes, 64/128/256 bits, 1/100/1000/10000
#      queries (k=10, HDS pool 1000 over 128-d features); then 10M and 100M codes at 64 bits
#      (codes only: 100M x 128-d features would need 51 GB)
# One JSON line per run goes to FILE (default bench/results/gpu-<host>-<date>.jsonl) and stdout.
# Without a GPU it stops at once with the reason (exit status 2).
set -euo pipefail

HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
OUT=""
QUICK=0
while (( $# > 0 )); do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "gpu-bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "gpu-bench: $1" >&2; exit "${2:-1}"; }

# --- where are we: bundle or checkout -------------------------------------------------------
if [[ -x "$HERE/../runtime/bin/java" ]]; then
  MODE=bundle
  BASE="$(cd "$HERE/.." && pwd)"
  CLI=("$BASE/bin/engine-cli")
  RESULTS="$BASE/results"
else
  MODE=checkout
  BASE="$(cd "$HERE/.." && pwd)"
  CLI=("$BASE/engine-cli")
  RESULTS="$BASE/bench/results"
fi

# --- is there a GPU ------------------------------------------------------------------------
if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1' && ! [[ -e /usr/lib/x86_64-linux-gnu/libcuda.so.1 ]] \
   && [[ -z "${LD_LIBRARY_PATH:-}" || -z "$(find ${LD_LIBRARY_PATH//:/ } -maxdepth 1 -name 'libcuda.so.1' 2>/dev/null | head -1)" ]]; then
  die "no GPU here: the NVIDIA driver library libcuda.so.1 is not installed. Run this on a GPU node (build the bundle with bench/bundle-gpu.sh and copy it there)." 2
fi
if command -v nvidia-smi >/dev/null 2>&1; then
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
  (( gpus > 0 )) || die "no GPU here: nvidia-smi lists no device ($(nvidia-smi -L 2>&1 | head -1))" 2
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader >&2 || true
fi

mkdir -p "$RESULTS"
OUT="${OUT:-$RESULTS/gpu-$(hostname -s)-$(date +%Y%m%d-%H%M%S).jsonl}"
echo "gpu-bench: $MODE mode, results in $OUT" >&2

# --- 1. parity ------------------------------------------------------------------------------
echo "gpu-bench: GPU parity tests ..." >&2
if [[ $MODE == bundle ]]; then
  JAVA_OPTS="-Ddeephash.requireGpu=true ${JAVA_OPTS:-}" "$BASE/bin/gpu-parity" || die "GPU parity tests failed"
else
  (cd "$BASE" && mvn -B -q verify -pl java/cuda -am -Dsurefire.extra.flags=-Ddeephash.requireGpu=true) \
    || die "GPU parity tests failed (reports: java/cuda/target/failsafe-reports)"
fi

# --- 2. benchmarks --------------------------------------------------------------------------
run() {
  echo "gpu-bench: engine-cli bench $*" >&2
  "${CLI[@]}" bench --backend cuda --json "$@" | tee -a "$OUT"
}
queries=(1 100 1000 10000)
(( QUICK )) && queries=(1 1000)
for bits in 64 128 256; do
  for q in "${queries[@]}"; do
    run --n 1000000 --bits "$bits" --queries "$q" --k 10 --dim 128 --pool 1000
  done
done
run --n 10000000 --bits 64 --queries 1000 --k 10 --dim 0 --verify 5
(( QUICK )) || run --n 100000000 --bits 64 --queries 1000 --k 10 --dim 0 --verify 1 --verify-l2 0 --runs 3 --warmup 1
echo "gpu-bench: done: $OUT" >&2
