#!/usr/bin/env bash
# Where a search's time goes in the JIT-compiled Java code: perf samples (cpu-clock: no hardware
# counters needed) of a loop of searches (org.deephash.bench.SearchLoop), mapped to the compiled
# methods through the JVM's perf map; with ANNOTATE, the hottest compiled body of one method is
# read out of the running JVM and its instructions listed with their sample counts.
#
#   bench/profile-java.sh [knn|hds] [K] [BITS]       # top-k (or coarse-to-fine) of 1000 queries, 1M codes
#   bench/profile-java.sh knn 1000                   # methods by share of the samples
#   ANNOTATE=scan8Codes bench/profile-java.sh knn 1000   # and that method's hottest instructions
#
# Environment: BACKEND (java), WARM (seconds before sampling, 15), SECONDS_SAMPLED (10), TOP (15
# methods), JVM_FLAGS (extra JVM options, e.g. -XX:UseAVX=2). Needs perf; ANNOTATE needs gdb and
# objdump. Output: a summary on stdout, perf.data, the map and the annotation under
# bench/results/profile-DATE/ (ignored by git). Why this way: JFR's line numbers inside compiled
# vector loops proved unreliable, and the JIT's code can only be read from the live process
# (docs/CPU.md, "Profiling the Java kernels").
set -euo pipefail

ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
MODE=${1:-knn}
K=${2:-10}
BITS=${3:-64}
BACKEND=${BACKEND:-java}
WARM=${WARM:-15}
SECONDS_SAMPLED=${SECONDS_SAMPLED:-10}
TOP=${TOP:-15}
case "$MODE" in knn | hds) ;; *) echo "profile-java: the search is knn or hds, not '$MODE'" >&2; exit 2 ;; esac
command -v perf >/dev/null || { echo "profile-java: perf is not installed (apt-get install linux-perf)" >&2; exit 2; }
if [[ -n "${ANNOTATE:-}" ]]; then
  for tool in gdb objdump; do
    command -v "$tool" >/dev/null || { echo "profile-java: ANNOTATE needs $tool" >&2; exit 2; }
  done
fi

JAVA_HOME="$("$ROOT/engine-cli" --java-home)"
export JAVA_HOME
echo "profile-java: building the bench jar ..." >&2
(cd "$ROOT" && mvn -B -q -pl bench -am package -DskipTests)
OUT="$ROOT/bench/results/profile-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"

# shellcheck disable=SC2086 # JVM_FLAGS is a list of options
"$JAVA_HOME/bin/java" -Xmx12g ${JVM_FLAGS:-} --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -Dengine.backend="$BACKEND" -cp "$ROOT/bench/target/benchmarks.jar" org.deephash.bench.SearchLoop \
  "$MODE" "$K" $((WARM + SECONDS_SAMPLED + 60)) "$BITS" >"$OUT/loop.txt" 2>"$OUT/loop.err" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
echo "profile-java: warming up for $WARM s (pid $pid) ..." >&2
sleep "$WARM"
kill -0 "$pid" 2>/dev/null || { echo "profile-java: the search loop ended early: $(tail -1 "$OUT/loop.err")" >&2; exit 1; }
before=$(wc -l <"$OUT/loop.txt")
"$JAVA_HOME/bin/jcmd" "$pid" Compiler.perfmap >/dev/null
if ! perf record -F 1999 -p "$pid" -o "$OUT/perf.data" -- sleep "$SECONDS_SAMPLED" >/dev/null 2>"$OUT/perf.err"; then
  echo "profile-java: perf record failed: $(tail -1 "$OUT/perf.err") (perf_event_paranoid is $(cat /proc/sys/kernel/perf_event_paranoid))" >&2
  exit 1
fi
"$JAVA_HOME/bin/jcmd" "$pid" Compiler.perfmap >/dev/null # methods compiled while sampling
cp "/tmp/perf-$pid.map" "$OUT/perf.map"
perf script -i "$OUT/perf.data" -F ip 2>/dev/null | sort | uniq -c >"$OUT/ips.txt"

head -1 "$OUT/loop.txt"
echo "times while sampled:"
tail -n +"$((before + 1))" "$OUT/loop.txt" | sed 's/^/  /'
python3 - "$OUT" "$TOP" "${ANNOTATE:-}" <<'PY' >"$OUT/summary.txt"
import bisect, sys
out, top, want = sys.argv[1], int(sys.argv[2]), sys.argv[3]
blobs = []  # (start, size, name) of compiled code
for line in open(f"{out}/perf.map"):
    start, size, name = line.rstrip("\n").split(" ", 2)
    blobs.append((int(start, 16), int(size, 16), name))
blobs.sort()
starts = [b[0] for b in blobs]
by_method, by_blob, total = {}, {}, 0
for line in open(f"{out}/ips.txt"):
    count, ip = line.split()
    count, ip = int(count), int(ip, 16)
    total += count
    i = bisect.bisect_right(starts, ip) - 1
    name = "(not compiled Java: the JVM, native code, the kernel)"
    if i >= 0 and ip < blobs[i][0] + blobs[i][1]:
        name = blobs[i][2]
        by_blob[blobs[i]] = by_blob.get(blobs[i], 0) + count
    by_method[name] = by_method.get(name, 0) + count
print(f"{total} samples")
for name, count in sorted(by_method.items(), key=lambda e: -e[1])[:top]:
    print(f"{100.0 * count / total:6.2f}%  {name[:150]}")
if want:
    hits = [(c, b) for b, c in by_blob.items() if want in b[2]]
    if hits:
        c, b = max(hits)
        print(f"ANNOTATE {b[0]:#x} {b[1]:#x} {c} {b[2][:150]}")
PY
grep -v '^ANNOTATE' "$OUT/summary.txt"
if [[ -n "${ANNOTATE:-}" ]]; then
  read -r _ start size count name < <(grep '^ANNOTATE' "$OUT/summary.txt" || echo "- - - - -")
  if [[ "$start" == "-" ]]; then
    echo "profile-java: no compiled code of a method matching '$ANNOTATE' was sampled" >&2
    exit 1
  fi
  end=$(printf '%#x' $((start + size)))
  gdb -p "$pid" -batch -ex "dump binary memory $OUT/code.bin $start $end" >/dev/null 2>&1 ||
    { echo "profile-java: gdb could not read the JVM's memory (ptrace not permitted?)" >&2; exit 1; }
  objdump -D -b binary -m i386:x86-64 --adjust-vma="$start" "$OUT/code.bin" >"$OUT/code.asm"
  python3 - "$OUT" <<'PY'
import re, sys
out = sys.argv[1]
counts = {}
for line in open(f"{out}/ips.txt"):
    c, ip = line.split()
    counts[int(ip, 16)] = int(c)
rows = []
for line in open(f"{out}/code.asm"):
    m = re.match(r"\s*([0-9a-f]+):\s", line)
    if m:
        rows.append((counts.get(int(m.group(1), 16), 0), line.rstrip()))
with open(f"{out}/annotated.txt", "w") as f:
    for c, text in rows:
        f.write(f"{c:7d} {text}\n")
total = sum(c for c, _ in rows)
# the hottest window of 40 instructions, in address order (a sample lands just after the slow instruction)
best = max(range(max(1, len(rows) - 39)), key=lambda i: sum(c for c, _ in rows[i:i + 40]))
print(f"\nhottest 40 instructions of the method ({total} samples in it; all of it in {out}/annotated.txt):")
for c, text in rows[best:best + 40]:
    print(f"{c:7d} {text[:130]}")
PY
fi
echo "profile-java: files in $OUT" >&2
