#!/usr/bin/python3
"""FAISS IndexBinaryFlat side of the engine-vs-FAISS comparison (run with /usr/bin/python3).

Sub-commands (bench/compare-faiss.sh drives them):

  time   --n N --bits B --queries Q --k K [--runs 5] [--threads 2] [--seed S]
         Times IndexBinaryFlat.search on random uniform codes (database and queries from
         independent generators), after a warm-up; prints one JSON line with the median,
         min and max of the runs.
  data   --n N --bits B --queries Q --seed S --out DIR
         Writes DIR/codes.npy (uint8 [N, B/8]) and DIR/queries.npy (uint8 [Q, B/8]) so that
         both engines can search exactly the same data.
  check  --dir DIR --k K --results FILE [--label NAME]
         Searches DIR's data with FAISS and compares with the engine's results (CSV written by
         `engine-cli search`): distances must be equal at every rank; ids must agree as sets
         within each distance below the k-th (FAISS breaks ties differently, so the last
         group is compared by distance only). Prints one JSON line; exit 1 on a mismatch.
  table  FILE
         Reads the JSON lines in FILE (output of `time`, `engine-cli bench --json` tagged
         with "case", and `check`) and prints a markdown table with FAISS ms / engine ms.
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np


def random_codes(seed, rows, nbytes):
    return np.random.default_rng(seed).integers(0, 256, size=(rows, nbytes), dtype=np.uint8)


def cmd_time(a):
    import faiss

    faiss.omp_set_num_threads(a.threads)
    # Independent generators for the database and the queries, derived from one seed.
    db = random_codes([a.seed, 0], a.n, a.bits // 8)
    qs = random_codes([a.seed, 1], a.queries, a.bits // 8)
    index = faiss.IndexBinaryFlat(a.bits)
    index.add(db)
    for _ in range(a.warmup):
        index.search(qs, a.k)
    times = []
    busy = []  # CPU time of every thread over wall time x threads, as engine-cli bench reports it
    for _ in range(a.runs):
        c0 = time.process_time()
        t0 = time.perf_counter()
        D, I = index.search(qs, a.k)
        t1 = time.perf_counter()
        busy.append((time.process_time() - c0) / max(1e-9, t1 - t0) / a.threads)
        times.append((t1 - t0) * 1e3)
    assert D.shape == (a.queries, a.k)
    med = statistics.median(times)
    print(json.dumps({
        "engine": "faiss", "backend": "faiss-IndexBinaryFlat " + faiss.__version__,
        "n": a.n, "bits": a.bits, "queries": a.queries, "k": a.k, "threads": a.threads, "runs": a.runs,
        "median_ms": round(med, 3), "min_ms": round(min(times), 3), "max_ms": round(max(times), 3),
        "gcodes_per_s": round(a.n * a.queries / (med / 1e3) / 1e9, 3),
        "busy_median": round(statistics.median(busy), 2),
        "case": a.case,
    }))


def cmd_data(a):
    import os

    os.makedirs(a.out, exist_ok=True)
    np.save(os.path.join(a.out, "codes.npy"), random_codes([a.seed, 0], a.n, a.bits // 8))
    np.save(os.path.join(a.out, "queries.npy"), random_codes([a.seed, 1], a.queries, a.bits // 8))


def read_engine_csv(path, queries, k):
    ids = [[] for _ in range(queries)]
    dist = [[] for _ in range(queries)]
    with open(path) as f:
        header = f.readline().strip().split(",")
        if header[:4] != ["query", "rank", "id", "hamming"]:
            raise SystemExit("%s: unexpected header %s" % (path, header))
        for line in f:
            q, rank, i, h = line.strip().split(",")[:4]
            ids[int(q)].append(int(i))
            dist[int(q)].append(int(h))
    return ids, dist


def cmd_check(a):
    import os

    import faiss

    faiss.omp_set_num_threads(a.threads)
    db = np.load(os.path.join(a.dir, "codes.npy"))
    qs = np.load(os.path.join(a.dir, "queries.npy"))
    index = faiss.IndexBinaryFlat(db.shape[1] * 8)
    index.add(db)
    D, I = index.search(qs, a.k)
    ids, dist = read_engine_csv(a.results, len(qs), a.k)
    problems = []
    for q in range(len(qs)):
        want_d = D[q].tolist()
        if dist[q] != want_d:
            problems.append("query %d: FAISS distances %s, engine %s" % (q, want_d, dist[q]))
            continue
        last = want_d[-1]
        for d in sorted(set(want_d)):
            if d == last:
                break  # the boundary group: either engine may pick any of the tied codes
            f_ids = {int(i) for i, x in zip(I[q], want_d) if x == d}
            e_ids = {i for i, x in zip(ids[q], dist[q]) if x == d}
            if f_ids != e_ids:
                problems.append("query %d distance %d: FAISS ids %s, engine %s" % (q, d, sorted(f_ids), sorted(e_ids)))
    for p in problems[:10]:
        print("check: " + p, file=sys.stderr)
    print(json.dumps({
        "engine": "check", "label": a.label, "n": int(db.shape[0]), "bits": int(db.shape[1] * 8),
        "queries": int(len(qs)), "k": a.k, "distances_equal": not problems, "mismatches": len(problems),
    }))
    return 1 if problems else 0


def fmt(x):
    return "-" if x is None else ("%.1f" % x if x >= 10 else "%.2f" % x)


def cmd_table(a):
    rows = [json.loads(l) for l in open(a.file) if l.strip().startswith("{")]
    cases = []
    for r in rows:
        if r.get("case") and r["case"] not in cases:
            cases.append(r["case"])
    backends = []
    for r in rows:
        if r.get("engine") != "faiss" and r.get("case") and r["backend"] not in backends:
            backends.append(r["backend"])
    head = "| case | FAISS IndexBinaryFlat ms |"
    sep = "|---|---:|"
    for b in backends:
        head += " %s ms | FAISS / %s |" % (b, b)
        sep += "---:|---:|"
    print(head)
    print(sep)
    for c in cases:
        f = next((r for r in rows if r.get("case") == c and r.get("engine") == "faiss"), None)
        line = "| %s | %s |" % (c, fmt(f and f["median_ms"]))
        for b in backends:
            e = next((r for r in rows if r.get("case") == c and r.get("backend") == b and r.get("engine") != "faiss"),
                     None)
            if e is None:
                line += " - | - |"
                continue
            ratio = f["median_ms"] / e["median_ms"] if f and e["median_ms"] > 0 else None
            mark = "" if e.get("verified") else " (NOT verified)"
            line += " %s%s | %s |" % (fmt(e["median_ms"]), mark, "-" if ratio is None else "%.2fx" % ratio)
        print(line)
    checks = [r for r in rows if r.get("engine") == "check"]
    if checks:
        print()
        print("Same data, same queries (engine-cli import + search vs FAISS), distances compared rank by rank:")
        print()
        print("| data | engine backend | queries x k | distances equal |")
        print("|---|---|---:|---|")
        for r in checks:
            print("| %s x %d bits | %s | %d x %d | %s |" % (
                "{:,}".format(r["n"]), r["bits"], r["label"], r["queries"], r["k"],
                "yes" if r["distances_equal"] else "NO (%d queries differ)" % r["mismatches"]))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("time")
    t.add_argument("--n", type=int, default=1_000_000)
    t.add_argument("--bits", type=int, default=64)
    t.add_argument("--queries", type=int, default=1000)
    t.add_argument("--k", type=int, default=10)
    t.add_argument("--runs", type=int, default=5)
    t.add_argument("--warmup", type=int, default=1)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--seed", type=int, default=42)
    t.add_argument("--case", default=None)
    d = sub.add_parser("data")
    d.add_argument("--n", type=int, required=True)
    d.add_argument("--bits", type=int, required=True)
    d.add_argument("--queries", type=int, required=True)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--out", required=True)
    c = sub.add_parser("check")
    c.add_argument("--dir", required=True)
    c.add_argument("--k", type=int, default=10)
    c.add_argument("--results", required=True)
    c.add_argument("--label", default="engine")
    c.add_argument("--threads", type=int, default=2)
    tb = sub.add_parser("table")
    tb.add_argument("file")
    a = p.parse_args()
    if getattr(a, "bits", 8) % 8:
        p.error("--bits must be a multiple of 8")
    return {"time": cmd_time, "data": cmd_data, "check": cmd_check, "table": cmd_table}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
