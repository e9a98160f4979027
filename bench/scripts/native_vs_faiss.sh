#!/bin/sh
# Native kernels (C harness, and end to end through GpuHashSearch) against FAISS IndexBinaryFlat on
# the same sizes, alternated so both see the same machine load. One JSON line per measurement.
# Needs: build/native (cmake -S cmake -B build/native && cmake --build build/native) and
# bench/target/benchmarks.jar (mvn -q package -pl bench -am -DskipTests).
set -e
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
JAVA=${JAVA:-java}
J="$JAVA --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar org.deephash.bench.ScanTiming"
for bits in 64 128 256; do
  /usr/bin/python3 bench/scripts/faiss_baseline.py $bits 1000000 1000 10 2 $RUNS
  build/native/native/dh_bench $bits 1000000 1000 10 2 2 $RUNS
  $J native $bits 1000000 1000 10 2 $RUNS 2>/dev/null
done
/usr/bin/python3 bench/scripts/faiss_baseline.py 64 1000000 1 10 2 51
/usr/bin/python3 bench/scripts/faiss_baseline.py 64 1000000 1 10 1 51
$J native 64 1000000 1 10 2 51 2>/dev/null
$J native 64 1000000 1 10 1 51 2>/dev/null
