#!/usr/bin/env python3
"""Verification scores studied offline on a `delf eval --dump-candidates FILE` dump (docs/DELF.md).

    python3 bench/delf/verify/scores.py DUMP OUT/queries.tsv [THRESHOLD_PX] [MIN_INLIERS]

DUMP has one line per shortlisted image of every query: query, image, relevant (1/0), votes,
matches, query extent, image extent (minX,minY,maxX,maxY), the matches' query points and image
points (x,y,...), inlier flags (0/1 string, empty when RANSAC found no model), distance ratios,
the product's significance and ranking score. queries.tsv (same run's --out) gives the AP by
votes of queries whose relevant image is not in the shortlist (no reordering of it moves them).

Prints the mAP of each ordering of the shortlist (the tail keeps the vote order): votes; raw
inliers first (the old product); ln(votes) + beta * significance for a few beta, significance
recomputed here from the flags by the formula of Significance.java (an independent check of it);
the product's own score column; and the same with inliers counted at distinct places (one per
THRESHOLD_PX disc, in both images), a variant that was measured and not adopted.
Run with the RANSAC minimum of the dump run (--min-inliers 3 gives all models).
"""
import math
import sys

import numpy as np
from scipy.special import gammaln


def load(path):
    rows = []
    for line in open(path):
        f = line.rstrip('\n').split('\t')
        q, img, rel, votes, n = map(int, f[:5])
        arr = lambda s: np.array([float(x) for x in s.split(',')] if n else [], dtype=float)
        mask = np.array([ch == '1' for ch in f[9]], dtype=bool) if f[9] else np.zeros(n, bool)
        rows.append(dict(q=q, img=img, rel=rel, votes=votes, n=n, ie=[float(x) for x in f[6].split(',')],
                         qp=arr(f[7]).reshape(-1, 2), ip=arr(f[8]).reshape(-1, 2), mask=mask,
                         k=int(mask.sum()), java_sig=float(f[11]), java_score=float(f[12])))
    return rows


def ln_choose(n, k):
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


def significance(n, k, p):
    """-ln NFA = -(ln(n-3) + ln C(n,k) + ln C(k,3) + (k-3) ln p), floored at 0; 0 below 4 inliers."""
    if k < 4:
        return 0.0
    return max(0.0, -(math.log(n - 3) + ln_choose(n, k) + ln_choose(k, 3) + (k - 3) * math.log(p)))


def chance(thr, extent):
    area = max(1.0, (extent[2] - extent[0]) * (extent[3] - extent[1]))
    return min(0.5, math.pi * thr * thr / area)


def distinct(points, r):
    """Points kept greedily at least r apart."""
    kept = []
    for x in points:
        if all((x[0] - y[0]) ** 2 + (x[1] - y[1]) ** 2 >= r * r for y in kept):
            kept.append(x)
    return len(kept)


def mean_ap(rows, votes_ap, key):
    """mAP with each query's shortlist ordered by key(c) desc (None: after the scored, by votes)."""
    byq = {}
    for c in rows:
        byq.setdefault(c['q'], []).append(c)
    aps = []
    for q, vap in enumerate(votes_ap):
        cs = byq.get(q, [])
        if not any(c['rel'] for c in cs):
            aps.append(vap)
            continue
        def sort_key(c):
            s = key(c)
            return (0 if s is not None else 1, -(s if s is not None else 0), -c['votes'], c['img'])
        order = sorted(cs, key=sort_key)
        aps.append(1.0 / (1 + [i for i, c in enumerate(order) if c['rel']][0]))
    return float(np.mean(aps))


def main():
    dump, tsv = sys.argv[1], sys.argv[2]
    thr = float(sys.argv[3]) if len(sys.argv) > 3 else 6.0
    min_inliers = int(sys.argv[4]) if len(sys.argv) > 4 else 12
    rows = load(dump)
    lines = [l.rstrip('\n').split('\t') for l in open(tsv)]
    votes_ap = [float(l[lines[0].index('ap_delf')]) for l in lines[1:]]
    worst = 0.0
    for c in rows:
        p = chance(thr, c['ie'])
        c['sig'] = significance(c['n'], c['k'], p) if c['k'] >= min_inliers else 0.0
        worst = max(worst, abs(c['sig'] - c['java_sig']))
        m = c['mask']
        d = min(distinct(c['qp'][m], thr), distinct(c['ip'][m], thr))
        c['sig_distinct'] = significance(c['n'], d, p) if c['k'] >= min_inliers else 0.0
    print('%d candidates of %d queries; |significance here - product| <= %.4f' % (len(rows), len(votes_ap), worst))
    ln = lambda c: math.log(max(c['votes'], 1))
    rules = [('votes', lambda c: None),
             ('inliers >= %d first' % min_inliers, lambda c: c['k'] if c['k'] >= min_inliers else None),
             ('product score column', lambda c: c['java_score'])]
    for beta in (0.01, 0.02, 0.03, 0.05, 0.1):
        rules.append(('ln votes + %g significance' % beta, lambda c, b=beta: ln(c) + b * c['sig']))
    for beta in (0.03, 0.1):
        rules.append(('ln votes + %g significance (distinct)' % beta, lambda c, b=beta: ln(c) + b * c['sig_distinct']))
    for name, key in rules:
        print('%-45s mAP %.4f' % (name, mean_ap(rows, votes_ap, key)))


if __name__ == '__main__':
    main()
