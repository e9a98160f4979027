#!/usr/bin/python3
"""FAISS IndexBinaryFlat baseline for the native backend's targets (median of N runs).

Usage: /usr/bin/python3 bench/scripts/faiss_baseline.py [bits] [n] [queries] [k] [threads] [runs]
Prints one JSON line. Database and queries use independent seeds.
"""
import json
import statistics
import sys
import time

import faiss
import numpy as np

bits, n, nq, k, threads, runs = (int(a) for a in (sys.argv[1:] + ["64", "1000000", "1000", "10", "2", "5"][len(sys.argv) - 1:]))
faiss.omp_set_num_threads(threads)
db = np.random.default_rng(1).integers(0, 256, size=(n, bits // 8), dtype=np.uint8)
qs = np.random.default_rng(2).integers(0, 256, size=(nq, bits // 8), dtype=np.uint8)
index = faiss.IndexBinaryFlat(bits)
index.add(db)
index.search(qs[: min(nq, 10)], k)  # warm up
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    D, I = index.search(qs, k)
    times.append(time.perf_counter() - t0)
print(json.dumps({"engine": "faiss-IndexBinaryFlat " + faiss.__version__, "bits": bits, "n": n, "queries": nq, "k": k,
                  "threads": threads, "median_ms": round(statistics.median(times) * 1e3, 3),
                  "min_ms": round(min(times) * 1e3, 3),
                  "gcodes_per_s": round(n * nq / statistics.median(times) * 1e-9, 3)}))
