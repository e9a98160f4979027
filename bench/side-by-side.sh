#!/usr/bin/env bash
# Times this checkout's Java code against another revision's, call by call in one JVM
# (org.deephash.bench.SideBySide: each build in a class loader of its own, searches alternating,
# the ratio taken pair by pair; far steadier on a shared machine than two runs one after another).
#
#   bench/side-by-side.sh REV [knn|hds] [K] [PAIRS] [BITS]
#   bench/side-by-side.sh HEAD~1 knn 1000 40     # top-1000 of 1000 queries over 1M 64-bit codes
#   bench/side-by-side.sh HEAD~1 hds 10 30       # coarse-to-fine, pool 1000, 128-d features
#   bench/side-by-side.sh HEAD~1 knn 10 30 256   # 256-bit codes
#
# REV's core module is built in a git worktree under build/side-by-side/ (kept for the next run;
# `git worktree remove build/side-by-side/SHA` drops it);
# this checkout's core and the bench jar are built here. BACKEND (java) picks the backend; both
# sides load the same native library, so for the C core use dh_bench instead.
set -euo pipefail

ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
REV=${1:?usage: bench/side-by-side.sh REV [knn|hds] [K] [PAIRS] [BITS]}
MODE=${2:-knn}
K=${3:-10}
PAIRS=${4:-40}
BITS=${5:-64}
BACKEND=${BACKEND:-java}
case "$MODE" in knn | hds) ;; *) echo "side-by-side: the search is knn or hds, not '$MODE'" >&2; exit 2 ;; esac

JAVA_HOME="$("$ROOT/engine-cli" --java-home)"
export JAVA_HOME
sha=$(git -C "$ROOT" rev-parse --short "$REV^{commit}")
old="$ROOT/build/side-by-side/$sha"
if [[ ! -d "$old" ]]; then
  mkdir -p "$ROOT/build/side-by-side"
  git -C "$ROOT" worktree add --detach "$old" "$sha" >/dev/null
fi
echo "side-by-side: building $sha and this checkout ..." >&2
(cd "$old" && mvn -B -q -pl java/core -am package -DskipTests)
(cd "$ROOT" && mvn -B -q -pl bench -am package -DskipTests)

# a fixed, touched young generation: otherwise the heap's growth puts page faults into whichever
# side allocates first
exec "$JAVA_HOME/bin/java" -Xmx12g -Xmn4g -XX:+AlwaysPreTouch --add-modules jdk.incubator.vector \
  --enable-native-access=ALL-UNNAMED -Dengine.backend="$BACKEND" -cp "$ROOT/bench/target/benchmarks.jar" \
  org.deephash.bench.SideBySide "$old/java/core/target/classes" "$ROOT/java/core/target/classes" "$MODE" "$K" "$PAIRS" "$BITS"
