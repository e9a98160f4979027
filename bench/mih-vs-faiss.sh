#!/usr/bin/env bash
# bench/mih-vs-faiss.sh: exact Hamming radius search with multi-index hash tables, side by side
# with FAISS's IndexBinaryMultiHash and both engines' scans, on the same data, results compared.
#
#   bench/mih-vs-faiss.sh [--n N] [--queries Q] [--radius R] [--runs K] [--seed S]
#
# Defaults: 10,000,000 random 64-bit codes, 1000 random queries with one planted neighbour within
# R = 2 bits each, 5 timed runs after a warm-up, 2 threads everywhere. Prints one JSON line per
# engine and a table. Needs numpy; the FAISS rows need faiss (Debian's python3-faiss is a GENERIC
# build: its flat scan is about 3x slower than a current FAISS release's, so ratios against that
# row flatter us; the multi-hash row is lookups and depends little on SIMD).
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
N=10000000 Q=1000 R=2 RUNS=5 SEED=7
while (( $# > 0 )); do
  case "$1" in
    --n) N=$2; shift 2 ;; --queries) Q=$2; shift 2 ;; --radius) R=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;; --seed) SEED=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "mih-vs-faiss: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
PY=/usr/bin/python3
"$PY" -c 'import numpy' 2>/dev/null || PY=python3
source "$ROOT/bench/faiss-path.sh"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
simd=$(grep -m1 '^flags' /proc/cpuinfo | grep -q avx512_vpopcntdq && echo "AVX-512 VPOPCNTDQ" || echo "no AVX-512")
echo "mih-vs-faiss: $N codes, $Q queries, radius $R, $(nproc) cores ($simd)" >&2
"$PY" "$ROOT/bench/mih_faiss.py" make "$W" "$N" "$Q" "$R" "$SEED"
"$ROOT/engine-cli" import --codes "$W/codes.npy" --mih --out "$W/index.dh" >&2
for method in mih scan; do
  "$ROOT/engine-cli" search --index "$W/index.dh" --queries "$W/queries.npy" --radius "$R" --cap 1000 \
    --method "$method" --threads 2 --repeat $((RUNS + 1)) --format jsonl --out "$W/$method.jsonl" 2>"$W/$method.err"
  ms=$(sed -n 's/.*: \([0-9.]*\) ms (median.*/\1/p' "$W/$method.err")
  echo "{\"engine\":\"deephash\",\"method\":\"$method\",\"n\":$N,\"queries\":$Q,\"radius\":$R,\"median_ms\":$ms}"
done
faiss=""
if "$PY" -c 'import faiss' 2>/dev/null; then
  faiss=$("$PY" "$ROOT/bench/mih_faiss.py" faiss "$W" "$R" "$RUNS")
  echo "$faiss"
fi
"$PY" - "$W" "$faiss" <<'PY'
import json, sys, os
w, faiss = sys.argv[1], sys.argv[2]
def ours(m):
    return [sorted(json.loads(l)["ids"]) for l in open(os.path.join(w, m + ".jsonl"))]
mih, scan = ours("mih"), ours("scan")
assert mih == scan, "the tables and the scan disagree"
found = sum(1 for ids in mih if ids)
print(f"results: tables == scan for every query ({found} of {len(mih)} queries found something)", file=sys.stderr)
if faiss:
    f = [json.loads(l) for l in open(os.path.join(w, "faiss.jsonl"))]
    assert f == mih, "FAISS and deephash disagree"
    print("results: identical to FAISS's", file=sys.stderr)
PY
