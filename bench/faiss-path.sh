# Sourced by the FAISS comparison scripts (after they set ROOT): puts the AVX2 build of
# bench/setup-faiss.sh on PYTHONPATH when it exists (FAISS_DIR: another build folder), so that
# /usr/bin/python3 imports it instead of Debian's GENERIC python3-faiss, whose software popcount
# makes IndexBinaryFlat about 6x slower and every ratio against it as flattering.
faiss_python="${FAISS_DIR:-$ROOT/build/faiss-avx2}/python"
if [[ -d "$faiss_python/faiss" ]]; then
  export PYTHONPATH="$faiss_python${PYTHONPATH:+:$PYTHONPATH}"
else
  echo "$(basename "$0"): no AVX2 FAISS built (bench/setup-faiss.sh); Debian's GENERIC one, if any, flatters the ratios" >&2
fi
