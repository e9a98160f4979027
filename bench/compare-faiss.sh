#!/usr/bin/env bash
# Side-by-side: FAISS IndexBinaryFlat (python3-faiss, 2 threads) vs ./engine-cli bench for every
# CPU/GPU backend that can run here, on the same kind of data (random uniform codes, same n, bits,
# queries, k; median of runs after a warm-up), then an exact same-data check (both engines search
# the same .npy codes; distances must be equal rank by rank).
#
#   bench/compare-faiss.sh              # the full set: 1M codes, ~5-10 minutes on 2 cores
#   N=100000 RUNS=3 bench/compare-faiss.sh   # quicker
#
# Prints a markdown table on stdout; raw JSON lines and the table go to bench/results/.
set -euo pipefail

ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
PY=/usr/bin/python3 # Debian's python3-faiss lives there, not in a pyenv python
source "$ROOT/bench/faiss-path.sh" # the AVX2 FAISS of bench/setup-faiss.sh, when built
CLI="$ROOT/engine-cli"
N=${N:-1000000}
RUNS=${RUNS:-5}
SINGLE_RUNS=${SINGLE_RUNS:-21} # one query takes well under a millisecond: more runs for a stable median
THREADS=${THREADS:-2}
K=${K:-10}
SEED=${SEED:-42}
VERIFY=${VERIFY:-5} # queries each engine run checks against the scalar oracle (which sorts all N rows)
CHECK_QUERIES=${CHECK_QUERIES:-100}
# libgomp's default active spin-wait collapses FAISS (10x slower seen) when the machine has more
# runnable threads than cores, as a shared build machine often does; passive waiting is what the
# engine's Java threads do. Set OMP_WAIT_POLICY=ACTIVE to measure FAISS's default.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

"$PY" -c 'import faiss, numpy' 2>/dev/null || {
  echo "compare-faiss: $PY cannot import faiss and numpy (apt-get install python3-faiss python3-numpy)" >&2
  exit 1
}
mkdir -p "$ROOT/bench/results"
stamp=$(date +%Y%m%d-%H%M%S)
RAW="$ROOT/bench/results/faiss-compare-$stamp.jsonl"
TABLE="$ROOT/bench/results/faiss-compare-$stamp.md"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Backends to compare: every one that can run here except the scalar oracle.
mapfile -t BACKENDS < <("$CLI" backends --available 2>/dev/null | grep -vx scalar)
(( ${#BACKENDS[@]} > 0 )) || { echo "compare-faiss: no engine backend available" >&2; exit 1; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "compare-faiss: backends ${BACKENDS[*]}; n=$N k=$K threads=$THREADS runs=$RUNS; load average $load_before" >&2

# case label, bits, queries, runs
CASES=(
  "1M x 64 bits, 1000 queries|64|1000|$RUNS"
  "1M x 64 bits, 1 query|64|1|$SINGLE_RUNS"
  "1M x 128 bits, 1000 queries|128|1000|$RUNS"
  "1M x 256 bits, 1000 queries|256|1000|$RUNS"
)
if [[ "$N" != 1000000 ]]; then
  CASES=("${CASES[@]//1M/$N}")
fi

for c in "${CASES[@]}"; do
  IFS='|' read -r label bits queries runs <<<"$c"
  echo "compare-faiss: $label: FAISS ..." >&2
  "$PY" "$ROOT/bench/faiss_compare.py" time --n "$N" --bits "$bits" --queries "$queries" --k "$K" \
    --runs "$runs" --threads "$THREADS" --seed "$SEED" --case "$label" >>"$RAW"
  for b in "${BACKENDS[@]}"; do
    echo "compare-faiss: $label: engine $b ..." >&2
    line=$("$CLI" bench --backend "$b" --n "$N" --bits "$bits" --queries "$queries" --k "$K" --threads "$THREADS" \
      --seed "$SEED" --dim 0 --runs "$runs" --warmup 2 --verify "$(( queries < VERIFY ? queries : VERIFY ))" --json \
      2> >(grep -v '^WARNING: Using incubator' >&2)) || echo "compare-faiss: engine $b failed or did not verify" >&2
    [[ -n "$line" ]] && echo "${line%\}},\"engine\":\"deephash\",\"case\":\"$label\"}" >>"$RAW"
  done
done

# Same data: FAISS and the engine search identical codes (via engine-cli import + search).
for bits in 64 256; do
  dir="$WORK/data-$bits"
  "$PY" "$ROOT/bench/faiss_compare.py" data --n "$N" --bits "$bits" --queries "$CHECK_QUERIES" --seed "$SEED" \
    --out "$dir"
  "$CLI" import --codes "$dir/codes.npy" --out "$dir/index.dh" 2> >(grep -v "^WARNING: Using incubator" >&2) >/dev/null
  for b in "${BACKENDS[@]}"; do
    echo "compare-faiss: same-data check, $bits bits, engine $b ..." >&2
    "$CLI" search --backend "$b" --index "$dir/index.dh" --queries "$dir/queries.npy" --k "$K" \
      --out "$dir/results-$b.csv" 2>/dev/null
    "$PY" "$ROOT/bench/faiss_compare.py" check --dir "$dir" --k "$K" --results "$dir/results-$b.csv" \
      --label "$b" --threads "$THREADS" >>"$RAW" || echo "compare-faiss: $b differs from FAISS (see above)" >&2
  done
done

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "FAISS $("$PY" -c 'import faiss; print(faiss.__version__)') IndexBinaryFlat vs deephash engine-cli bench;" \
    "$(nproc) cores, $THREADS threads each; median of $RUNS runs ($SINGLE_RUNS for one query) after warm-up;" \
    "k=$K; random uniform codes; OMP_WAIT_POLICY=$OMP_WAIT_POLICY; load average before $load_before, after $load_after ($(date -u +%FT%TZ))."
  echo
  "$PY" "$ROOT/bench/faiss_compare.py" table "$RAW"
} | tee "$TABLE"
echo "compare-faiss: raw results in $RAW, table in $TABLE" >&2
