#!/usr/bin/env bash
# Builds a FAISS with hardware popcount for the CPU comparisons (cpu-matrix.sh, compare-faiss.sh,
# mih-vs-faiss.sh pick it up by themselves). Debian's python3-faiss is a GENERIC build: its
# IndexBinaryFlat counts bits in software and runs about 6x slower than the same release compiled
# for AVX2, so ratios against it flatter the engine. This compiles that same release (1.7.3, the
# .orig tarball of Debian's source package, fetched from the pool directory apt already uses for
# python3-faiss; SHA-256 pinned) with FAISS_OPT_LEVEL=avx2 and its Python bindings. 1.7.3 has no
# AVX-512 level; its binary kernels use POPCNT on 64-bit words at every width.
#
#   bench/setup-faiss.sh [--force] [DIR]      (DIR defaults to build/faiss-avx2; about 15 minutes
#                                              on 2 cores)
#
# Output: DIR/python/faiss (the scripts put DIR/python on PYTHONPATH for /usr/bin/python3).
# Needs: apt-get install -y cmake g++ swig python3-dev python3-numpy libopenblas-dev
set -euo pipefail

ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
version=1.7.3
sha256=3e4fac26d8c9e9008ecea4ae5fc414c658998fce4ba75835058b1a71d3516002
PY=/usr/bin/python3
source "$ROOT/bench/setup-args.sh"
setup_args setup-faiss 14 "$ROOT/build/faiss-avx2" "$@"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
if [[ $force -eq 0 && -f "$dir/.done" && "$(cat "$dir/.done")" == "$sha256" ]]; then
  echo "setup-faiss: $dir/python already holds FAISS $version (AVX2); --force rebuilds it" >&2
  exit 0
fi
for tool in cmake g++ swig curl; do
  command -v "$tool" >/dev/null || {
    echo "setup-faiss: $tool not found (apt-get install -y cmake g++ swig python3-dev python3-numpy libopenblas-dev)" >&2
    exit 1
  }
done
"$PY" -c 'import numpy' 2>/dev/null || { echo "setup-faiss: $PY lacks numpy (apt-get install -y python3-numpy)" >&2; exit 1; }

tarball="$dir/faiss_$version.orig.tar.gz"
if [[ ! -f "$tarball" ]] || ! echo "$sha256  $tarball" | sha256sum -c --status; then
  # apt knows where Debian's faiss packages live; the source tarball sits beside the binary ones
  uri=$(apt-get download --print-uris python3-faiss 2>/dev/null | head -1 | cut -d"'" -f2)
  [[ "$uri" == */pool/main/f/faiss/* ]] || {
    echo "setup-faiss: apt does not know python3-faiss (run apt-get update)" >&2
    exit 1
  }
  echo "setup-faiss: fetching faiss_$version.orig.tar.gz ..." >&2
  curl -fsS -o "$tarball.part" "${uri%/*}/faiss_$version.orig.tar.gz"
  mv "$tarball.part" "$tarball"
fi
echo "$sha256  $tarball" | sha256sum -c --status || {
  echo "setup-faiss: $tarball does not match the pinned SHA-256; delete it and run again" >&2
  exit 1
}

rm -rf "$dir/src" "$dir/cmake" "$dir/python" "$dir/.done"
mkdir -p "$dir/src"
tar xzf "$tarball" -C "$dir/src" --strip-components=1
echo "setup-faiss: configuring (FAISS_OPT_LEVEL=avx2, no GPU, Python bindings) ..." >&2
cmake -S "$dir/src" -B "$dir/cmake" -DCMAKE_BUILD_TYPE=Release -DFAISS_OPT_LEVEL=avx2 -DFAISS_ENABLE_GPU=OFF \
  -DFAISS_ENABLE_PYTHON=ON -DBUILD_TESTING=OFF -DBLA_VENDOR=OpenBLAS -DPython_EXECUTABLE="$PY" >"$dir/cmake.log" 2>&1 || {
  echo "setup-faiss: cmake failed; see $dir/cmake.log" >&2
  exit 1
}
echo "setup-faiss: compiling (log: $dir/build.log) ..." >&2
cmake --build "$dir/cmake" -j "$(nproc)" --target swigfaiss_avx2 >"$dir/build.log" 2>&1 || {
  echo "setup-faiss: the build failed; see $dir/build.log" >&2
  exit 1
}
(cd "$dir/cmake/faiss/python" && "$PY" setup.py build --build-lib "$dir/python" >>"$dir/build.log" 2>&1)
opts=$(PYTHONPATH="$dir/python" "$PY" -c 'import faiss; print(faiss.__version__, faiss.get_compile_options())')
[[ "$opts" == "$version"*AVX2* ]] || { echo "setup-faiss: the built module reports '$opts', not $version AVX2" >&2; exit 1; }
echo "$sha256" >"$dir/.done"
echo "setup-faiss: FAISS $opts in $dir/python" >&2
