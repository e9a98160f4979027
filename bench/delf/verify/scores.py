#!/usr/bin/env python3
"""Offline study of verification scores on a `delf eval --dump-candidates` file.

Usage: scores.py DUMP QUERIES_TSV [MIN_INLIERS] [THRESHOLD_PX]
Each candidate line: query, image, relevant, votes, matches, query extent, image extent,
query points, image points, inlier flags. QUERIES_TSV (from --out) gives the AP by votes of
queries whose relevant image is not in the shortlist (reordering the shortlist cannot move it).
"""
import sys, math
import numpy as np
from scipy.special import gammaln

def load(path):
    rows = []
    for line in open(path):
        f = line.rstrip('\n').split('\t')
        q, img, rel, votes, n = map(int, f[:5])
        qe = [float(x) for x in f[5].split(',')]
        ie = [float(x) for x in f[6].split(',')]
        qp = np.array([float(x) for x in f[7].split(',')] if n else [], dtype=float).reshape(-1, 2)
        ip = np.array([float(x) for x in f[8].split(',')] if n else [], dtype=float).reshape(-1, 2)
        mask = np.array([c == '1' for c in f[9]], dtype=bool) if f[9] else np.zeros(n, bool)
        rows.append(dict(q=q, img=img, rel=rel, votes=votes, n=n, qe=qe, ie=ie, qp=qp, ip=ip, mask=mask,
                         k=int(mask.sum())))
    return rows

def distinct(p, r):
    """Greedy count of points at least r apart (in input order)."""
    kept = []
    for x in p:
        if all((x[0]-y[0])**2 + (x[1]-y[1])**2 >= r*r for y in kept):
            kept.append(x)
    return len(kept)

def hull_area(p):
    if len(p) < 3: return 0.0
    pts = sorted(map(tuple, p))
    def cross(o, a, b): return (a[0]-o[0])*(b[1]-o[1]) - (a[1]-o[1])*(b[0]-o[0])
    lo, hi = [], []
    for x in pts:
        while len(lo) >= 2 and cross(lo[-2], lo[-1], x) <= 0: lo.pop()
        lo.append(x)
    for x in reversed(pts):
        while len(hi) >= 2 and cross(hi[-2], hi[-1], x) <= 0: hi.pop()
        hi.append(x)
    h = lo[:-1] + hi[:-1]
    return 0.5*abs(sum(h[i][0]*h[(i+1)%len(h)][1] - h[(i+1)%len(h)][0]*h[i][1] for i in range(len(h))))

def logbinom(n, k):
    return gammaln(n+1) - gammaln(k+1) - gammaln(n-k+1)

def log_tail(n, k, p):
    """log P(Binomial(n, p) >= k)."""
    if k <= 0: return 0.0
    ks = np.arange(k, n+1)
    t = logbinom(n, ks) + ks*np.log(p) + (n-ks)*np.log1p(-p)
    m = t.max()
    return m + math.log(np.exp(t-m).sum())

def features(rows, thr):
    for c in rows:
        n, k = c['n'], c['k']
        qi, ii = c['qp'][c['mask']], c['ip'][c['mask']]
        c['dq8'] = distinct(qi, 8)
        c['di8'] = distinct(ii, 8)
        c['dq16'] = distinct(qi, 16)
        c['dq4'] = distinct(qi, 4)
        c['dmin8'] = min(c['dq8'], c['di8'])
        c['hullq'] = hull_area(qi)
        c['hulli'] = hull_area(ii)
        ie = c['ie']
        area = max(1.0, (ie[2]-ie[0]+2*thr)*(ie[3]-ie[1]+2*thr))
        p = min(0.5, math.pi*thr*thr/area)
        c['p'] = p
        c['lt'] = -log_tail(n, k, p) if n >= 3 else 0.0
        # a-contrario NFA (Moisan-Stival): (n-3) C(n,k) C(k,3) p^(k-3)
        c['nfa'] = -(math.log(max(1, n-3)) + logbinom(n, k) + logbinom(k, 3) + (k-3)*math.log(p)) if k >= 3 else -1e9
        # the same on distinct inliers
        d = c['dmin8']
        c['nfad'] = -(math.log(max(1, n-3)) + logbinom(n, d) + logbinom(d, 3) + (d-3)*math.log(p)) if d >= 3 else -1e9
    return rows

def evaluate(rows, tsv, key, votes_ap):
    """mAP when the shortlist is ordered by key(c) (None: unverified), then votes, then id."""
    byq = {}
    for c in rows:
        byq.setdefault(c['q'], []).append(c)
    aps = []
    for q in range(len(votes_ap)):
        cs = byq.get(q, [])
        if not any(c['rel'] for c in cs):
            aps.append(votes_ap[q]); continue
        def sk(c):
            s = key(c)
            return (0 if s is not None else 1, -(s if s is not None else 0), -c['votes'], c['img'])
        order = sorted(cs, key=sk)
        r = [i for i, c in enumerate(order) if c['rel']][0]
        aps.append(1.0/(r+1))
    return float(np.mean(aps)), aps

if __name__ == '__main__':
    dump, tsv = sys.argv[1], sys.argv[2]
    mi = int(sys.argv[3]) if len(sys.argv) > 3 else 12
    thr = float(sys.argv[4]) if len(sys.argv) > 4 else 6
    rows = features(load(dump), thr)
    lines = [l.rstrip('\n').split('\t') for l in open(tsv)]
    h = lines[0]
    votes_ap = [float(l[h.index('ap_delf')]) for l in lines[1:]]
    ransac_ap = [float(l[h.index('ap_delf_ransac')]) for l in lines[1:]]
    print('tsv: ransac %.4f votes %.4f' % (np.mean(ransac_ap), np.mean(votes_ap)))
    S = {
      'votes': lambda c: None,
      'inliers>=mi': lambda c: c['k'] if c['k'] >= mi else None,
    }
    for name, f in S.items():
        print('%-30s %.4f' % (name, evaluate(rows, tsv, f, votes_ap)[0]))

def load2(path):
    """load() plus the distance ratios and keypoint scales (dumps since the scales were added)."""
    rows = []
    for line in open(path):
        f = line.rstrip('\n').split('\t')
        q, img, rel, votes, n = map(int, f[:5])
        arr = lambda s: np.array([float(x) for x in s.split(',')] if n else [], dtype=float)
        c = dict(q=q, img=img, rel=rel, votes=votes, n=n,
                 qe=[float(x) for x in f[5].split(',')], ie=[float(x) for x in f[6].split(',')],
                 qp=arr(f[7]).reshape(-1, 2), ip=arr(f[8]).reshape(-1, 2),
                 mask=np.array([ch == '1' for ch in f[9]], dtype=bool) if f[9] else np.zeros(n, bool),
                 ratio=arr(f[10]), qs=arr(f[11]), is_=arr(f[12]))
        c['k'] = int(c['mask'].sum())
        rows.append(c)
    return rows

def ransac(src, dst, thr, trials=1000, seed=0):
    """Affine RANSAC (numpy; the product's idea, not its random stream): inlier mask or None."""
    n = len(src)
    if n < 3: return None
    rng = np.random.default_rng(seed)
    idx = np.array([rng.choice(n, 3, replace=False) for _ in range(trials)])
    S = src[idx]; D = dst[idx]                      # trials x 3 x 2
    A = np.concatenate([S, np.ones((trials, 3, 1))], axis=2)   # trials x 3 x 3
    det = np.linalg.det(A)
    ok = np.abs(det) > 1e-6
    if not ok.any(): return None
    M = np.linalg.solve(A[ok], D[ok])               # t x 3 x 2: [x y 1] @ M = [u v]
    P = np.concatenate([src, np.ones((n, 1))], axis=1)
    pred = np.einsum('nk,tkj->tnj', P, M)
    err = ((pred - dst[None]) ** 2).sum(-1) <= thr * thr
    cnt = err.sum(1)
    b = int(cnt.argmax())
    mask = err[b]
    for _ in range(3):
        if mask.sum() < 3: break
        Pm = P[mask]
        Mls, *_ = np.linalg.lstsq(Pm, dst[mask], rcond=None)
        nm = ((P @ Mls - dst) ** 2).sum(-1) <= thr * thr
        if nm.sum() <= mask.sum(): break
        mask = nm
    Mls, *_ = np.linalg.lstsq(P[mask], dst[mask], rcond=None) if mask.sum() >= 3 else (None,)
    if Mls is None or not plausible(Mls): return None
    return mask

def plausible(M):
    a, c = M[0, 0], M[0, 1]; b, d = M[1, 0], M[1, 1]  # u = a x + b y, v = c x + d y
    det = a * d - b * c
    if not (det > 1 / 25) or det > 25: return False
    f = a * a + b * b + c * c + d * d
    disc = math.sqrt(max(0, f * f - 4 * det * det))
    s1 = math.sqrt((f + disc) / 2); s2 = math.sqrt(max(1e-18, (f - disc) / 2))
    return s1 / s2 < 4

def plausible_many(M):
    """plausible() for a stack of models t x 3 x 2 ([x y 1] @ M = [u v])."""
    a = M[:, 0, 0]; c = M[:, 0, 1]; b = M[:, 1, 0]; d = M[:, 1, 1]
    det = a * d - b * c
    f = a * a + b * b + c * c + d * d
    disc = np.sqrt(np.maximum(0, f * f - 4 * det * det))
    s1 = np.sqrt((f + disc) / 2); s2 = np.sqrt(np.maximum(1e-18, (f - disc) / 2))
    return (det > 1 / 25) & (det <= 25) & (s1 / s2 < 4)

def ransac2(src, dst, thr, trials=1000, seed=0, plausible_first=True):
    """As ransac(), implausible hypotheses rejected before they are scored (plausible_first)."""
    n = len(src)
    if n < 3: return None
    rng = np.random.default_rng(seed)
    idx = np.argsort(rng.random((trials, n)), axis=1)[:, :3] if n < 64 else rng.integers(0, n, (trials, 3))
    idx = idx[(idx[:, 0] != idx[:, 1]) & (idx[:, 0] != idx[:, 2]) & (idx[:, 1] != idx[:, 2])]
    S = src[idx]; D = dst[idx]
    A = np.concatenate([S, np.ones((len(idx), 3, 1))], axis=2)
    ok = np.abs(np.linalg.det(A)) > 1e-6
    if not ok.any(): return None
    M = np.linalg.solve(A[ok], D[ok])
    if plausible_first:
        M = M[plausible_many(M)]
        if len(M) == 0: return None
    P = np.concatenate([src, np.ones((n, 1))], axis=1)
    pred = np.einsum('nk,tkj->tnj', P, M)
    err = ((pred - dst[None]) ** 2).sum(-1) <= thr * thr
    b = int(err.sum(1).argmax())
    mask = err[b]
    for _ in range(3):
        if mask.sum() < 3: break
        Mls, *_ = np.linalg.lstsq(P[mask], dst[mask], rcond=None)
        if plausible_first and not plausible(Mls): break
        nm = ((P @ Mls - dst) ** 2).sum(-1) <= thr * thr
        if nm.sum() <= mask.sum(): break
        mask = nm
    if mask.sum() < 3: return None
    Mls, *_ = np.linalg.lstsq(P[mask], dst[mask], rcond=None)
    if not plausible(Mls): return None
    return mask

def ransac3(src, dst, thr, qs, ds, tol=math.log(2), trials=1000, seed=0):
    """ransac2() where a correspondence is an inlier only when, besides landing within thr px, its
    keypoints' pyramid scales agree with the model's scale: |log(ds * sqrt(det) / qs)| <= tol."""
    n = len(src)
    if n < 3: return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, (trials, 3))
    idx = idx[(idx[:, 0] != idx[:, 1]) & (idx[:, 0] != idx[:, 2]) & (idx[:, 1] != idx[:, 2])]
    S = src[idx]; D = dst[idx]
    A = np.concatenate([S, np.ones((len(idx), 3, 1))], axis=2)
    ok = np.abs(np.linalg.det(A)) > 1e-6
    if not ok.any(): return None
    M = np.linalg.solve(A[ok], D[ok])
    M = M[plausible_many(M)]
    if len(M) == 0: return None
    lr = np.log(ds / qs)
    def inl(Ms):
        P = np.concatenate([src, np.ones((n, 1))], axis=1)
        pred = np.einsum('nk,tkj->tnj', P, Ms)
        det = Ms[:, 0, 0] * Ms[:, 1, 1] - Ms[:, 1, 0] * Ms[:, 0, 1]
        sc = np.abs(lr[None, :] + 0.5 * np.log(det)[:, None]) <= tol
        return (((pred - dst[None]) ** 2).sum(-1) <= thr * thr) & sc
    err = inl(M)
    b = int(err.sum(1).argmax())
    mask = err[b]
    P = np.concatenate([src, np.ones((n, 1))], axis=1)
    for _ in range(3):
        if mask.sum() < 3: break
        Mls, *_ = np.linalg.lstsq(P[mask], dst[mask], rcond=None)
        if not plausible(Mls): break
        nm = inl(Mls[None])[0]
        if nm.sum() <= mask.sum(): break
        mask = nm
    if mask.sum() < 3: return None
    return mask
