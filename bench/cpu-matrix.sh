#!/usr/bin/env bash
# The CPU benchmark matrix of issue 15: exact Hamming top-k on 1M random codes by width, batch size
# and k, for each CPU engine (native at its best tier, native capped to AVX2, java), beside FAISS's
# IndexBinaryFlat when a FAISS is importable; then the end-to-end main job (BCS, HDS, ES) per
# engine; the clock and the instruction-set bounds the scan figures are set against.
#
#   bench/cpu-matrix.sh              # markdown tables on stdout (about 10 minutes on 2 cores)
#   bench/cpu-matrix.sh --json       # one JSON line per measurement on stdout instead
#   N=100000 RUNS=3 bench/cpu-matrix.sh   # quicker
#
# Environment: N (rows, 1000000), RUNS (5), SINGLE_RUNS (21, for one query), THREADS (2),
# MAX_LOAD (0.5: waits, up to WAIT seconds (900), for the 1-minute load average to fall below it
# before starting, and reports the load it ran under), RETRIES (2: a batch cell, engine or FAISS,
# whose threads ran for under 80% of the wall time is measured again once the load settles, up to
# this many more times; the table shows the attempt busiest on its cores and marks it, the JSON
# keeps the other attempts' medians), ENGINES ("native native-avx2 java"),
# FAISS_PY (/usr/bin/python3: the AVX2 FAISS of bench/setup-faiss.sh when built, else Debian's
# python3-faiss), CLI (the engine-cli to
# measure, this checkout's by default).
#
# Every engine run checks a sample of its results against the scalar oracle (verified: true) before
# timing. Progress goes to stderr; raw JSON lines are kept under bench/results/ (ignored by git).
set -euo pipefail

ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
CLI=${CLI:-"$ROOT/engine-cli"} # another checkout's engine-cli measures its engine (before/after)
FAISS_PY=${FAISS_PY:-/usr/bin/python3}
source "$ROOT/bench/faiss-path.sh" # the AVX2 FAISS of bench/setup-faiss.sh, when built
N=${N:-1000000}
RUNS=${RUNS:-5}
SINGLE_RUNS=${SINGLE_RUNS:-21}
THREADS=${THREADS:-2}
MAX_LOAD=${MAX_LOAD:-0.5}
WAIT=${WAIT:-900}
RETRIES=${RETRIES:-2}
ENGINES=${ENGINES:-"native native-avx2 java"}
JSON=0
for a in "$@"; do
  case "$a" in
    --json) JSON=1 ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cpu-matrix: unknown argument $a (try --help)" >&2; exit 2 ;;
  esac
done
# libgomp's active spin-wait collapses FAISS when other processes share the cores; the engine's
# threads wait passively too.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

load1() { cut -d' ' -f1 /proc/loadavg; }
wait_quiet() { # limit step: waits, up to limit seconds, for the load average to fall below MAX_LOAD
  local waited=0
  while awk -v l="$(load1)" -v m="$MAX_LOAD" 'BEGIN { exit !(l > m) }' && (( waited < $1 )); do
    echo "cpu-matrix: load average $(load1) > $MAX_LOAD; waiting ($waited/$1 s)" >&2
    sleep "$2"
    waited=$((waited + $2))
  done
}
wait_quiet "$WAIT" 30

mkdir -p "$ROOT/bench/results"
RAW="$ROOT/bench/results/cpu-matrix-$(date +%Y%m%d-%H%M%S).jsonl"
: >"$RAW"
emit() { echo "$1" >>"$RAW"; }

# A cell whose threads were busy under 80% of the wall time waited for a core the whole time it
# was timed (a shared VM: one vCPU here ran the same one-thread search 1.5 times slower than the
# other for minutes at a time). best_of measures such a cell again once the load settles.
field() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p" <<<"$2"; }
best_of() { # label who command...: the command prints one JSON line with median_ms and busy_median
  local label=$1 who=$2 best="" best_busy=-1 n=0 line busy others=""
  shift 2
  while :; do
    n=$((n + 1))
    line=$("$@") || return 1
    busy=$(field busy_median "$line")
    busy=${busy:-1}
    if awk -v b="$busy" -v c="$best_busy" 'BEGIN { exit !(b > c) }'; then
      [[ -n "$best" ]] && others+="${others:+,}$(field median_ms "$best")"
      best=$line
      best_busy=$busy
    else
      others+="${others:+,}$(field median_ms "$line")"
    fi
    if awk -v b="$best_busy" 'BEGIN { exit !(b >= 0.8) }' || (( n > RETRIES )); then
      break
    fi
    echo "cpu-matrix: $label: $who: threads busy $busy of the wall time; measuring again once the load settles" >&2
    wait_quiet 120 15
  done
  echo "${best%\}},\"attempts\":$n,\"other_medians_ms\":[$others]}"
}

# The machine: CPU, the flags the kernels use, the clock while busy and the throughput of each
# tier's scan instructions alone (C harness dh_bench bounds, built on demand).
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|fma|avx512f|avx512bw|avx512_vpopcntdq' | tr '\n' ' ')
model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
bounds='"clock_ghz":null'
if [[ ! -x "$ROOT/build/native/native/dh_bench" ]] && command -v cmake >/dev/null; then
  (cmake -S "$ROOT/cmake" -B "$ROOT/build/native" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
    cmake --build "$ROOT/build/native" --target dh_bench >/dev/null) || true
fi
if [[ -x "$ROOT/build/native/native/dh_bench" ]]; then
  echo "cpu-matrix: clock and instruction bounds ..." >&2
  b=$("$ROOT/build/native/native/dh_bench" bounds)
  bounds=${b:1:${#b}-2}
fi
emit "{\"machine\":true,\"cpu\":\"$model\",\"cores\":$(nproc),\"flags\":\"${flags% }\",$bounds,\"threads\":$THREADS,\"load_before\":$(load1),\"n\":$N}"

have_faiss=0
if "$FAISS_PY" -c 'import faiss, numpy' 2>/dev/null; then
  have_faiss=1
  opt=$("$FAISS_PY" -c 'import faiss; print(faiss.get_compile_options() if hasattr(faiss, "get_compile_options") else "")')
  emit "{\"faiss\":true,\"version\":\"$("$FAISS_PY" -c 'import faiss; print(faiss.__version__)')\",\"compile\":\"$opt\"}"
else
  echo "cpu-matrix: no FAISS importable with $FAISS_PY (bench/setup-faiss.sh, or apt-get install python3-faiss); engine rows only" >&2
fi

engine_flags() { # the JVM options and backend of an engine name
  case "$1" in
    native) echo "native" ;;
    native-avx2) echo "native -Dengine.native.tier=avx2" ;;
    java) echo "java" ;;
    *) echo "cpu-matrix: unknown engine $1" >&2; exit 2 ;;
  esac
}

run_engine() { # engine case args...
  local engine=$1 label=$2
  shift 2
  local spec backend jvm=()
  spec=$(engine_flags "$engine")
  backend=${spec%% *}
  [[ "$spec" == *" "* ]] && jvm=("${spec#* }")
  echo "cpu-matrix: $label: $engine ..." >&2
  local line
  if line=$(best_of "$label" "$engine" "$CLI" "${jvm[@]}" bench --backend "$backend" --threads "$THREADS" "$@" --json \
      2> >(grep -v -e '^WARNING: Using incubator' -e "^WARNING: search backend 'cuda'" -e '^INFO: search backend' >&2)); then
    emit "${line%\}},\"engine\":\"$engine\",\"case\":\"$label\"}"
  else
    echo "cpu-matrix: $engine failed or did not verify on $label" >&2
  fi
}

# label | bits | queries | k | runs
CASES=(
  "64 bits, 1000 queries, k=10|64|1000|10|$RUNS"
  "128 bits|128|1000|10|$RUNS"
  "256 bits|256|1000|10|$RUNS"
  "1 query, 64 bits|64|1|10|$SINGLE_RUNS"
  "10,000 queries, k=100|64|10000|100|$RUNS"
  "1000 queries, k=1000|64|1000|1000|$RUNS"
)
for c in "${CASES[@]}"; do
  IFS='|' read -r label bits queries k runs <<<"$c"
  # one query's threads wait for each other's hand-offs in any case: not measured again
  again=$(( queries == 1 ? 0 : RETRIES ))
  if (( have_faiss )); then
    echo "cpu-matrix: $label: FAISS ..." >&2
    line=$(RETRIES=$again best_of "$label" FAISS "$FAISS_PY" "$ROOT/bench/faiss_compare.py" time --n "$N" --bits "$bits" \
      --queries "$queries" --k "$k" --runs "$runs" --threads "$THREADS" --case "$label")
    emit "$line"
  fi
  for e in $ENGINES; do
    RETRIES=$again run_engine "$e" "$label" --n "$N" --bits "$bits" --queries "$queries" --k "$k" --dim 0 --runs "$runs" \
      --verify "$(( queries < 5 ? queries : 5 ))"
  done
done
# The main job end to end: BCS (top-10), HDS (Hamming pool of 1000 re-ranked on 128-d features), ES.
for e in $ENGINES; do
  run_engine "$e" "main job" --n "$N" --runs "$RUNS" --verify 5 --verify-l2 2
done
emit "{\"machine\":true,\"load_after\":$(load1)}"

if (( JSON )); then
  cat "$RAW"
else
  python3 "$ROOT/bench/cpu_matrix.py" "$RAW"
fi
echo "cpu-matrix: raw JSON lines in $RAW" >&2
