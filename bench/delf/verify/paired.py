#!/usr/bin/env python3
"""Is one row of `delf eval` better than another on the same queries, beyond the queries' noise?

usage: paired.py OUT/queries.tsv [ROW_A ROW_B]     (default: delf_ransac delf, i.e. RANSAC against votes)

Reads the per-query average precision of both rows (columns ap_ROW of the queries.tsv that
`delf eval --out OUT` writes) and prints both mAPs, their difference, how many queries each wins,
and a 95% interval of the difference from 10,000 bootstrap resamples of the queries (seed 1).
"""
import csv
import random
import sys


def main():
    if len(sys.argv) not in (2, 4):
        sys.exit(__doc__.strip().splitlines()[2])
    a, b = (sys.argv[2], sys.argv[3]) if len(sys.argv) == 4 else ("delf_ransac", "delf")
    with open(sys.argv[1]) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in (a, b):
        if rows and "ap_" + r not in rows[0]:
            sys.exit(f"no column ap_{r} in {sys.argv[1]}")
    d = [float(r["ap_" + a]) - float(r["ap_" + b]) for r in rows]
    n = len(d)
    if n == 0:
        sys.exit(f"no queries in {sys.argv[1]}")
    rnd = random.Random(1)
    means = sorted(sum(d[rnd.randrange(n)] for _ in range(n)) / n for _ in range(10000))
    ma = sum(float(r["ap_" + a]) for r in rows) / n
    mb = sum(float(r["ap_" + b]) for r in rows) / n
    print(f"{n} queries: {a} {ma:.4f}, {b} {mb:.4f}, difference {ma - mb:+.4f}; "
          f"{a} better on {sum(x > 1e-9 for x in d)}, worse on {sum(x < -1e-9 for x in d)}; "
          f"95% interval of the difference [{means[250]:+.4f}, {means[9750]:+.4f}]")


if __name__ == "__main__":
    main()
