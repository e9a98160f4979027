#!/usr/bin/env python3
"""Data and FAISS figures for bench/mih-vs-faiss.sh (multi-index hashing, radius search).

    mih_faiss.py make  DIR N Q R SEED     random 64-bit codes, Q random queries, each with one
                                          row of the table planted within R bits of it
    mih_faiss.py faiss DIR R RUNS         FAISS IndexBinaryMultiHash (4 tables of 16 bits, as in
                                          FAISS's own benchmark) and IndexBinaryFlat range search,
                                          2 threads; prints one JSON line; writes faiss.jsonl
                                          (each query's ids within R, ascending)

Needs numpy and faiss: bench/setup-faiss.sh builds one for AVX2, which mih-vs-faiss.sh prefers;
Debian's python3-faiss is a GENERIC build whose software popcount slows its flat scan several
times (its multi-hash path is hash-table lookups).
"""
import json
import os
import sys
import time

import numpy as np


def make(d, n, q, r, seed):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, size=(n, 8), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(q, 8), dtype=np.uint8)
    rows = rng.choice(n, size=q, replace=False)
    for i, row in enumerate(rows):
        c = queries[i].copy()
        for bit in rng.choice(64, size=rng.integers(0, r + 1), replace=False):
            c[bit // 8] ^= np.uint8(1 << (bit % 8))
        codes[row] = c
    np.save(os.path.join(d, "codes.npy"), codes)
    np.save(os.path.join(d, "queries.npy"), queries)


def faiss_run(d, r, runs):
    import faiss
    faiss.omp_set_num_threads(2)
    codes = np.load(os.path.join(d, "codes.npy"))
    queries = np.load(os.path.join(d, "queries.npy"))
    out = {"faiss": faiss.__version__, "faiss_build": faiss.get_compile_options().strip(),
           "n": int(codes.shape[0]), "queries": int(queries.shape[0]), "radius": r}
    t0 = time.perf_counter()
    mh = faiss.IndexBinaryMultiHash(64, 4, 16)
    mh.add(codes)
    out["multihash_build_ms"] = round((time.perf_counter() - t0) * 1e3, 1)
    flat = faiss.IndexBinaryFlat(64)
    flat.add(codes)
    results = {}
    for name, index in (("multihash", mh), ("flat", flat)):
        times = []
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            lims, dist, labels = index.range_search(queries, r + 1)  # FAISS keeps distances < radius
            times.append((time.perf_counter() - t0) * 1e3)
        times = sorted(times[1:])
        out[name + "_median_ms"] = round(times[len(times) // 2], 3)
        results[name] = [sorted(int(x) for x in labels[lims[i]:lims[i + 1]]) for i in range(len(lims) - 1)]
    out["multihash_equals_flat"] = results["multihash"] == results["flat"]
    with open(os.path.join(d, "faiss.jsonl"), "w") as f:
        for ids in results["flat"]:
            f.write(json.dumps(ids) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    else:
        faiss_run(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
