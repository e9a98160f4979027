/*
 * Euclidean search: the exhaustive top-k (ES) and the fine stage of coarse-to-fine search (HDS).
 *
 * Both rank by the reference distance (dh_l2_exact: the oracle's sum, bit for bit), but compute it
 * only for rows that can be in the answer. The fast kernels give a = ||q||^2 + ||x||^2 - 2 q.x
 * from blocked FMA dot products and precomputed squared norms; a differs from the reference by at
 * most M(x) = c (||q||^2 + ||x||^2) + eta (dh_l2_margin). With T the k-th smallest upper bound
 * a + M over the rows seen, a row whose lower bound a - M exceeds T has k rows certainly nearer
 * and is dropped; the rows left (k plus the few within 2M of the k-th) get their reference
 * distance and are ranked by (distance, id).
 *
 * The fine stage can read an 8-bit copy of the table instead (dh_l2_sq8: per row, codes c_d with
 * x^_d = lo + step c_d, and a bound on ||x - x^||): a quarter of the bytes for the first pass,
 * whose rows are scattered over a table far larger than the caches. The copy's error enters the
 * same margins (see approx_bounds), so the rows left are again every row that can be in the answer,
 * and their reference distances are computed from the float features.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "deephash.h"
#include "dh_internal.h"
#include "dh_l2_internal.h"

/* Exhaustive scans go a tile of rows at a time so a tile's panels stay in L2 for every query. */
#define DH_L2_TILE_ROWS 1024

static int32_t next_up_bits(float f, float *out) {
  uint32_t b;
  memcpy(&b, &f, 4);
  if (f != f || f == __builtin_inff()) {
    *out = f;
    return 0;
  }
  if (f == 0) {
    b = 1; /* the smallest subnormal */
  } else if (b >> 31) {
    b--;
  } else {
    b++;
  }
  memcpy(out, &b, 4);
  return 0;
}

/* The float nearest x from above. */
static float round_up(double x) {
  float f = (float)x;
  if ((double)f < x) {
    next_up_bits(f, &f);
  }
  return f;
}

/*
 * The margin constants for dim. With u = 2^-24 and gamma_n = n u / (1 - n u), any float sum of n
 * products is within gamma_n of the sum of their magnitudes, so: the dot product q.x within
 * gamma_d ||q|| ||x|| <= gamma_d s / 2 (s = ||q||^2 + ||x||^2), each squared norm within gamma_d of
 * itself, the two operations forming a add 2u s; so |a - D| <= 2 gamma_{d+2} s for the true
 * squared distance D. The reference sums d rounded squares of rounded differences: within
 * gamma_{d+2} D <= 2 gamma_{d+2} s of D. Hence |a - reference| <= 4 gamma_{d+2} s; c = 5
 * gamma_{d+4} leaves room for the rounding of s itself. eta covers subnormal results, whose
 * rounding error is absolute (2^-149 per operation).
 */
static void margins(int32_t dim, double *c, double *eta) {
  const double u = 1.0 / 16777216.0, n = (double)dim + 4;
  *c = 5 * n * u / (1 - n * u);
  *eta = (4.0 * dim + 20) * (1.0 / 713623846352979940529142984724747568191373312.0); /* 2^-149 */
}

static inline int is_deleted(const uint64_t *tomb, int64_t row) {
  return tomb != NULL && ((tomb[row >> 6] >> (row & 63)) & 1);
}

static inline int64_t key_of(const dh_l2ctx *c, int32_t row) {
  return c->ids_ascending ? row : c->ids[row];
}

/* Up to this m, kth_smallest keeps the m + 1 smallest in a sorted array instead of partitioning. */
#define DH_KTH_SMALL 32

/* The m-th smallest (0-based) of v[0, n), which it may reorder. For a small m (a re-rank's k - 1 of
 * a pool of a thousand) one pass keeps the m + 1 smallest sorted: past the first few hundred
 * values almost every one fails a single compare (the partitions mispredicted a branch on every
 * other value). A NaN, which has no place in that order, sends it to the partition. */
static double kth_smallest(double *v, int32_t n, int32_t m) {
  if (m < DH_KTH_SMALL && n > 4 * (m + 1)) {
    double best[DH_KTH_SMALL];
    int nan = 0;
    for (int32_t i = 0; i <= m; i++) {
      const double x = v[i];
      nan |= x != x;
      int32_t j = i;
      for (; j > 0 && best[j - 1] > x; j--) best[j] = best[j - 1];
      best[j] = x;
    }
    for (int32_t i = m + 1; i < n && !nan; i++) {
      const double x = v[i];
      nan |= x != x;
      if (x < best[m]) {
        int32_t j = m;
        for (; j > 0 && best[j - 1] > x; j--) best[j] = best[j - 1];
        best[j] = x;
      }
    }
    if (!nan) {
      return best[m];
    }
  }
  int32_t lo = 0, hi = n - 1;
  while (hi > lo) {
    const int32_t mid = lo + (hi - lo) / 2;
    double t;
    if (v[mid] < v[lo]) { t = v[mid]; v[mid] = v[lo]; v[lo] = t; }
    if (v[hi] < v[lo]) { t = v[hi]; v[hi] = v[lo]; v[lo] = t; }
    if (v[hi] < v[mid]) { t = v[hi]; v[hi] = v[mid]; v[mid] = t; }
    const double pivot = v[mid];
    int32_t i = lo, j = hi;
    while (i <= j) {
      while (v[i] < pivot) i++;
      while (v[j] > pivot) j--;
      if (i <= j) {
        t = v[i];
        v[i] = v[j];
        v[j] = t;
        i++;
        j--;
      }
    }
    if (m <= j) {
      hi = j;
    } else if (m >= i) {
      lo = i;
    } else {
      break;
    }
  }
  return v[m];
}

static int ensure_scratch(dh_l2ctx *c, int32_t n) {
  if (n <= c->scratch_cap) {
    return 1;
  }
  double *p = realloc(c->scratch, sizeof(double) * (size_t)n);
  if (p == NULL) {
    return 0;
  }
  c->scratch = p;
  c->scratch_cap = n;
  return 1;
}

/* Drops deleted rows; then, with more than k left, every row whose lower bound exceeds the k-th
 * smallest upper bound T, and lowers the admission threshold to what T allows. */
static void fsel_cut(dh_l2ctx *c, dh_fsel *s) {
  int32_t w = 0;
  for (int32_t i = 0; i < s->n; i++) {
    s->a[w] = s->a[i];
    s->row[w] = s->row[i];
    w += !is_deleted(c->tomb, s->row[i]);
  }
  s->n = w;
  if (s->n <= c->k || !ensure_scratch(c, s->n)) {
    return;
  }
  for (int32_t i = 0; i < s->n; i++) {
    c->scratch[i] = (double)s->a[i] + c->c * (s->qq + c->norms[s->row[i]]) + c->eta;
  }
  const double t = kth_smallest(c->scratch, s->n, c->k - 1);
  w = 0;
  for (int32_t i = 0; i < s->n; i++) {
    const double lower = (double)s->a[i] - c->c * (s->qq + c->norms[s->row[i]]) - c->eta;
    s->a[w] = s->a[i];
    s->row[w] = s->row[i];
    w += lower <= t;
  }
  s->n = w;
  s->adm = round_up(t + c->c * (s->qq + c->xxmax) + c->eta);
}

void dh_fsel_push(dh_l2ctx *c, dh_fsel *s, float a, int32_t row) {
  if (s->n == s->cap) {
    fsel_cut(c, s);
    if (a > s->adm) {
      return;
    }
    if (s->n > s->cap / 2) {
      /* many rows within the margin of the k-th (near-duplicates): grow rather than cut again soon */
      const int32_t cap = s->cap * 2;
      float *na = realloc(s->a, sizeof(float) * (size_t)cap);
      if (na != NULL) {
        s->a = na;
      }
      int32_t *nr = na == NULL ? NULL : realloc(s->row, sizeof(int32_t) * (size_t)cap);
      if (nr == NULL) {
        c->status = DH_ENOMEM;
        return;
      }
      s->row = nr;
      s->cap = cap;
    }
    if (s->n == s->cap) {
      c->status = DH_ENOMEM;
      return;
    }
  }
  s->a[s->n] = a;
  s->row[s->n] = row;
  s->n++;
}

typedef struct ranked {
  uint32_t bits; /* of a non-negative float: the int order is the float order */
  int32_t row;
  int64_t key;
} ranked;

static int cmp_ranked(const void *x, const void *y) {
  const ranked *a = x, *b = y;
  if (a->bits != b->bits) {
    return a->bits < b->bits ? -1 : 1;
  }
  return (a->key > b->key) - (a->key < b->key);
}

static inline ranked rank_of(const dh_l2ctx *c, float d, int32_t row) {
  ranked r;
  memcpy(&r.bits, &d, 4);
  r.row = row;
  r.key = key_of(c, row);
  return r;
}

/* Where a candidate's reference distance can lie: [lo, hi], rounded outwards to float. */
typedef struct bounds {
  float lo, hi;
} bounds;

/* [a - margin, a + margin] in float, rounded outwards: 2^-22 relative is more than a float rounding
 * of a normal value, 2^-148 more than one of a subnormal; an infinite margin gives (-inf, inf). */
static inline bounds bounds_of(double a, double margin) {
  const double lo = a - margin, hi = a + margin;
  bounds b = {(float)(lo - fabs(lo) * 0x1p-22 - 0x1p-148), (float)(hi + fabs(hi) * 0x1p-22 + 0x1p-148)};
  return b;
}

/*
 * The reference ranking of the candidates cand[0, n) (rows, with the bounds b of their reference
 * distances): keeps those that can be among the best k (lower bound not above the k-th smallest
 * upper bound), computes their reference distance, and writes the best k by (distance, id).
 * out_ref[i] is the candidate's index in cand. Without cut every candidate is ranked (b unused).
 * Returns the count written, or -1 when scratch memory ran out.
 */
static int32_t rank_candidates(dh_l2ctx *c, const float *q, const bounds *b, const int32_t *rows, int32_t n,
                               ranked *buf, float *out_dist, int32_t *out_ref, int cut) {
  double t = __builtin_inf();
  if (cut && n > c->k) {
    if (!ensure_scratch(c, n)) {
      return -1;
    }
    for (int32_t i = 0; i < n; i++) {
      c->scratch[i] = b[i].hi;
    }
    t = kth_smallest(c->scratch, n, c->k - 1);
  }
  /* the rows left first, their features requested, then their reference distances */
  int32_t m = 0;
  for (int32_t i = 0; i < n; i++) {
    if (!cut || b[i].lo <= t) {
      const char *x = (const char *)(c->features + (size_t)rows[i] * (size_t)c->dim);
      for (size_t off = 0; off < sizeof(float) * (size_t)c->dim; off += 64) __builtin_prefetch(x + off);
      buf[m++].row = i; /* the candidate's index; its table row is rows[i] */
    }
  }
  for (int32_t j = 0; j < m; j++) {
    const int32_t i = buf[j].row, row = rows[i];
    buf[j] = rank_of(c, dh_l2_exact(q, c->features + (size_t)row * (size_t)c->dim, c->dim), row);
    buf[j].row = i;
  }
  qsort(buf, (size_t)m, sizeof(ranked), cmp_ranked);
  const int32_t out = m < c->k ? m : c->k;
  for (int32_t i = 0; i < out; i++) {
    memcpy(&out_dist[i], &buf[i].bits, 4);
    out_ref[i] = buf[i].row;
  }
  return out;
}

/* Exact top-k of one query by the reference distance alone, for squared norms that overflow float
 * (|values| near 1e19): the margins are then infinite. A sorted array; such input is pathological. */
static int32_t exact_topk(const dh_l2ctx *c, const float *q, int64_t r0, int64_t r1, ranked *best, float *out_dist,
                          int32_t *out_row) {
  int32_t n = 0;
  for (int64_t r = r0; r < r1; r++) {
    if (is_deleted(c->tomb, r)) {
      continue;
    }
    ranked e = rank_of(c, dh_l2_exact(q, c->features + (size_t)r * (size_t)c->dim, c->dim), (int32_t)r);
    if (n == c->k && cmp_ranked(&e, &best[n - 1]) >= 0) {
      continue;
    }
    int32_t i = n < c->k ? n++ : n - 1;
    while (i > 0 && cmp_ranked(&e, &best[i - 1]) < 0) {
      best[i] = best[i - 1];
      i--;
    }
    best[i] = e;
  }
  for (int32_t i = 0; i < n; i++) {
    memcpy(&out_dist[i], &best[i].bits, 4);
    out_row[i] = best[i].row;
  }
  return n;
}

/* The Euclidean kernels of a tier. */
typedef struct l2_kernels {
  dh_l2_scan_fn scan;
  dh_l2_dots_fn dots;
  dh_l2_dot8_fn dot8;
} l2_kernels;

static l2_kernels kernels_for(int32_t tier) {
#ifdef DH_HAVE_X86_TIERS
  if (tier == DH_TIER_AVX512) return (l2_kernels){dh_l2_scan_avx512, dh_l2_dots_avx512, dh_l2_dot8_avx512};
  if (tier == DH_TIER_AVX2) return (l2_kernels){dh_l2_scan_avx2, dh_l2_dots_avx2, dh_l2_dot8_avx2};
#endif
  (void)tier;
  return (l2_kernels){dh_l2_scan_scalar, dh_l2_dots_scalar, dh_l2_dot8_scalar};
}

/*
 * Whether the kernels' arithmetic stays finite for squared norms up to qq and xxmax: a and the
 * reference distance are at most 2 (||q||^2 + ||x||^2). Beyond (features near 1e19), margins would
 * be infinite and every row is ranked by its reference distance alone.
 */
static inline int in_range(double qq, double xxmax) {
  const double limit = 3.4028234663852886e38 / 2.1; /* FLT_MAX / 2.1 */
  return qq - qq == 0 && xxmax - xxmax == 0 && qq + xxmax < limit;
}

int32_t dh_l2_norms(const float *features, int32_t dim, int64_t row_begin, int64_t row_end, float *out) {
  if (dim < 1 || row_begin < 0 || row_end < row_begin) {
    return DH_EINVAL;
  }
  if (row_end == row_begin) {
    return DH_OK;
  }
  if (features == NULL || out == NULL) {
    return DH_EINVAL;
  }
  for (int64_t r = row_begin; r < row_end; r++) {
    out[r - row_begin] = dh_l2_norm(features + (size_t)r * (size_t)dim, dim);
  }
  return DH_OK;
}

/*
 * The 8-bit copy. Per row: lo = min x_d, step = (max x_d - lo) / 255, c_d = round((x_d - lo) / step),
 * so x^_d = lo + step c_d is within step / 2 of x_d; err = ||x - x^||, in double. The first pass
 * computes q.x^ = lo sum(q) + step (q.c), whose float rounding is within gamma ||q|| h with
 * h = sqrt(dim) |lo| + step ||c|| (the same bound as for q.x, with x^'s terms); the row's bound
 * is err + 4 gamma_{dim+4} h, rounded up with room to spare. A row whose range overflows float
 * gets an infinite bound: it is always ranked by its reference distance.
 */
int32_t dh_l2_sq8(const float *features, int32_t dim, int64_t row_begin, int64_t row_end, uint8_t *codes,
                  float *params) {
  if (dim < 1 || row_begin < 0 || row_end < row_begin) {
    return DH_EINVAL;
  }
  if (row_end == row_begin) {
    return DH_OK;
  }
  if (features == NULL || codes == NULL || params == NULL) {
    return DH_EINVAL;
  }
  double c, eta;
  margins(dim, &c, &eta);
  const double g4 = 4 * c / 5; /* 4 gamma_{dim+4} */
  for (int64_t r = row_begin; r < row_end; r++) {
    const float *x = features + (size_t)r * (size_t)dim;
    uint8_t *o = codes + (size_t)(r - row_begin) * (size_t)dim;
    float *p = params + 4 * (size_t)(r - row_begin);
    float lo = x[0], hi = x[0];
    for (int32_t d = 1; d < dim; d++) {
      lo = x[d] < lo ? x[d] : lo;
      hi = x[d] > hi ? x[d] : hi;
    }
    const float step = (hi - lo) / 255.0f;
    double err2 = 0, cc = 0;
    if (step > 0 && step - step == 0) {
      const double inv = 1.0 / (double)step;
      for (int32_t d = 0; d < dim; d++) {
        const double t = ((double)x[d] - (double)lo) * inv + 0.5;
        const int32_t v = t <= 0 ? 0 : t >= 255 ? 255 : (int32_t)t;
        o[d] = (uint8_t)v;
        const double e = (double)x[d] - ((double)lo + (double)step * v);
        err2 += e * e;
        cc += (double)v * v;
      }
    } else {
      memset(o, 0, (size_t)dim);
      for (int32_t d = 0; d < dim; d++) {
        const double e = (double)x[d] - (double)lo;
        err2 += e * e;
      }
    }
    const double bound = (sqrt(err2) + g4 * (sqrt((double)dim) * fabs((double)lo) + (double)step * sqrt(cc))) *
                             (1 + 1e-6) + eta;
    p[0] = lo;
    p[1] = step;
    p[2] = step - step == 0 ? round_up(bound) : __builtin_inff();
    p[3] = dh_l2_norm(x, dim);
  }
  return DH_OK;
}

int32_t dh_l2_topk(int32_t tier, const float *features, int32_t dim, const float *norms, int64_t row_begin,
                   int64_t row_end, const int64_t *ids, const uint64_t *tombstones, const float *queries, int32_t nq,
                   int32_t k, int32_t options, float *out_dist, int32_t *out_row, int32_t *out_count) {
  int32_t st = dh_check_tier(tier);
  if (st != DH_OK) {
    return st;
  }
  if (dim < 1 || row_begin < 0 || row_end < row_begin || row_end > INT32_MAX || nq < 0 || k < 1) {
    return DH_EINVAL;
  }
  if (nq == 0) {
    return DH_OK;
  }
  if (features == NULL || norms == NULL || ids == NULL || queries == NULL || out_dist == NULL || out_row == NULL ||
      out_count == NULL) {
    return DH_EINVAL;
  }
  const int64_t rows = row_end - row_begin;
  const int32_t keff = (int32_t)(rows < k ? rows : k);
  if (keff == 0) {
    for (int32_t q = 0; q < nq; q++) out_count[q] = 0;
    return DH_OK;
  }
  dh_l2ctx ctx = {.features = features, .norms = norms, .ids = ids, .tomb = tombstones, .dim = dim, .k = keff,
                  .ids_ascending = (options & DH_IDS_ASCENDING) != 0};
  margins(dim, &ctx.c, &ctx.eta);
  double xxmax = 0;
  for (int64_t r = row_begin; r < row_end; r++) {
    xxmax = norms[r] > xxmax ? norms[r] : xxmax;
  }
  ctx.xxmax = xxmax;
  const int32_t cap = 2 * keff + 64 < rows + 1 ? 2 * keff + 64 : (int32_t)rows + 1;
  dh_fsel *sels = calloc((size_t)nq, sizeof(dh_fsel));
  ranked *rk = malloc(sizeof(ranked) * (size_t)(cap > keff ? cap : keff));
  bounds *bb = malloc(sizeof(bounds) * (size_t)(cap > keff ? cap : keff));
  int32_t *idx = malloc(sizeof(int32_t) * (size_t)keff);
  int32_t *exact = calloc((size_t)nq, sizeof(int32_t));
  st = sels == NULL || rk == NULL || bb == NULL || idx == NULL || exact == NULL ? DH_ENOMEM : DH_OK;
  int32_t scanned = 0; /* queries [0, scanned) have buffers */
  for (; st == DH_OK && scanned < nq; scanned++) {
    dh_fsel *s = &sels[scanned];
    s->qq = dh_l2_norm(queries + (size_t)scanned * (size_t)dim, dim);
    s->adm = __builtin_inff();
    s->cap = cap;
    s->a = malloc(sizeof(float) * (size_t)cap);
    s->row = malloc(sizeof(int32_t) * (size_t)cap);
    if (s->a == NULL || s->row == NULL) {
      st = DH_ENOMEM;
    }
    /* squared norms beyond float: infinite margins, so that query is ranked exactly, row by row */
    exact[scanned] = !in_range(s->qq, xxmax);
    if (exact[scanned]) {
      s->adm = -__builtin_inff(); /* admits nothing */
    }
  }
  if (st == DH_OK) {
    const dh_l2_scan_fn scan = kernels_for(tier).scan;
    for (int64_t t0 = row_begin; t0 < row_end && ctx.status == DH_OK; t0 += DH_L2_TILE_ROWS) {
      const int64_t t1 = row_end - t0 > DH_L2_TILE_ROWS ? t0 + DH_L2_TILE_ROWS : row_end;
      scan(&ctx, queries, nq, sels, t0, t1);
    }
    st = ctx.status;
  }
  for (int32_t q = 0; st == DH_OK && q < nq; q++) {
    const float *qv = queries + (size_t)q * (size_t)dim;
    float *od = out_dist + (size_t)q * (size_t)k;
    int32_t *orow = out_row + (size_t)q * (size_t)k;
    if (exact[q]) {
      ranked *best = malloc(sizeof(ranked) * (size_t)keff);
      if (best == NULL) {
        st = DH_ENOMEM;
        break;
      }
      out_count[q] = exact_topk(&ctx, qv, row_begin, row_end, best, od, orow);
      free(best);
      continue;
    }
    dh_fsel *s = &sels[q];
    int32_t w = 0;
    for (int32_t i = 0; i < s->n; i++) { /* deleted rows go before the reference distances */
      s->a[w] = s->a[i];
      s->row[w] = s->row[i];
      w += !is_deleted(tombstones, s->row[i]);
    }
    s->n = w;
    if (s->n > cap) {
      ranked *grown = realloc(rk, sizeof(ranked) * (size_t)s->n);
      rk = grown != NULL ? grown : rk;
      bounds *gb = grown != NULL ? realloc(bb, sizeof(bounds) * (size_t)s->n) : NULL;
      if (gb == NULL) {
        st = DH_ENOMEM;
        break;
      }
      bb = gb;
    }
    for (int32_t i = 0; i < s->n; i++) {
      bb[i] = bounds_of(s->a[i], ctx.c * (s->qq + norms[s->row[i]]) + ctx.eta);
    }
    const int32_t m = rank_candidates(&ctx, qv, bb, s->row, s->n, rk, od, idx, 1);
    if (m < 0) {
      st = DH_ENOMEM;
      break;
    }
    for (int32_t i = 0; i < m; i++) {
      orow[i] = s->row[idx[i]];
    }
    out_count[q] = m;
  }
  for (int32_t q = 0; q < scanned; q++) {
    free(sels[q].a);
    free(sels[q].row);
  }
  free(sels);
  free(rk);
  free(bb);
  free(idx);
  free(exact);
  free(ctx.scratch);
  return st;
}

/* From this many pool entries in a call's row range, their bounds are computed in table order (see
 * bounds_in_row_order). */
#define DH_RERANK_SORTED_MIN 65536
/* Rows requested ahead of the one being read. */
#define DH_RERANK_AHEAD 16
/* Digits of the radix sort by row: at most 2^11 buckets, whose counters stay in L1 (two passes up
 * to 4M rows in a range; two passes of 16-bit digits timed the same). */
#define DH_RERANK_DIGIT 11

/* The 8-bit copy of the table, when the caller has one (dh_l2_sq8). */
typedef struct sq8 {
  const uint8_t *codes;
  const float *params; /* lo, step, bound, squared norm (beside the others: one line a row, not two) */
  dh_l2_dot8_fn dot8;
} sq8;

/* What the first pass needs of a query: its values, squared norm, and for the 8-bit copy the sum
 * of its values and 2 ||q|| (a little over, for the rounding of sqrt and of the product). */
typedef struct qinfo {
  const float *v;
  double qq, sum, twice_norm;
} qinfo;

static qinfo qinfo_of(const float *q, int32_t dim) {
  qinfo i = {q, dh_l2_norm(q, dim), 0, 0};
  for (int32_t d = 0; d < dim; d++) i.sum += q[d];
  i.twice_norm = 2.000001 * sqrt(i.qq);
  return i;
}

/*
 * The bounds of one row's reference distance to a query, from the float features (a as the
 * exhaustive kernels form it, margin c (qq + xx) + eta) or from the 8-bit copy: a from
 * q.x^ = lo sum(q) + step (q.c), the margin widened by 2 ||q|| times the row's bound, which covers
 * |q.x - q.x^| <= ||q|| ||x - x^|| (Cauchy-Schwarz) and the rounding of q.x^ (dh_l2_sq8).
 * Where ||q||^2 + ||x||^2 is beyond what the kernels' arithmetic keeps finite (in_range), the
 * bounds are infinite: the row is ranked by its reference distance alone.
 */
static inline bounds approx_bounds(const dh_l2ctx *c, const sq8 *s8, dh_l2_dots_fn dots, const qinfo *q,
                                   size_t row) {
  const int32_t dim = c->dim;
  double a, margin, xx;
  if (s8 != NULL) {
    const float *p = s8->params + 4 * row;
    const float dot = s8->dot8(s8->codes + row * (size_t)dim, dim, q->v);
    xx = p[3];
    a = q->qq + xx - 2 * ((double)p[0] * q->sum + (double)p[1] * dot);
    margin = c->c * (q->qq + xx) + c->eta + q->twice_norm * p[2];
  } else {
    float dot;
    dots(c->features + row * (size_t)dim, 1, dim, q->v, &dot);
    xx = c->norms[row];
    a = (float)(q->qq + xx) - 2 * dot;
    margin = c->c * (q->qq + xx) + c->eta;
  }
  if (!in_range(q->qq, xx)) {
    const bounds all = {-__builtin_inff(), __builtin_inff()};
    return all;
  }
  return bounds_of(a, margin);
}

/* Requests row's bytes in the table the first pass reads. Always inlined: as a function of its own,
 * GCC finds it free of side effects and drops the calls. */
static inline __attribute__((always_inline)) void prefetch_row(const dh_l2ctx *c, const sq8 *s8, size_t row) {
  const char *x = s8 != NULL ? (const char *)(s8->codes + row * (size_t)c->dim)
                             : (const char *)(c->features + row * (size_t)c->dim);
  const size_t bytes = s8 != NULL ? (size_t)c->dim : sizeof(float) * (size_t)c->dim;
  for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(x + off);
  if (s8 != NULL) {
    __builtin_prefetch(s8->params + 4 * row);
  }
}

/*
 * The bounds of the entries of the call's pools whose row is in [row_begin, row_end) into b[i]
 * (entry i: row pool_rows[i], i in [pool_offsets[0], pool_offsets[nq])), visiting the rows in
 * table order. A call's pools hold hundreds of thousands of scattered rows of a table too large
 * for the caches; read in table order, consecutive rows share DRAM pages and the hardware
 * prefetchers stream them (on the development VM a gather of 500k rows of a million, 512 bytes
 * each, took about 35 ns a row in order against 45-80 ns in pool order; 1000 pools of 1000 rows
 * split by rows across 2 threads took 21-24 ms against 25-26 split by queries). The order
 * is an LSD radix sort of (row, entry) keys by row, each key moved with its query, so that the
 * loop reads nothing out of order but the rows themselves (looking the query up by entry, at
 * random, took half its time). Returns 0, or -1 when scratch memory ran out.
 */
static int bounds_in_row_order(const dh_l2ctx *c, const sq8 *s8, dh_l2_dots_fn dots, const qinfo *qi, int32_t nq,
                               const int32_t *pool_offsets, const int32_t *pool_rows, int64_t row_begin,
                               int64_t row_end, int32_t in, bounds *b) {
  const size_t list = dh_round64(sizeof(uint64_t) * ((size_t)in + 1));
  const size_t qlist = dh_round64(sizeof(int32_t) * ((size_t)in + 1));
  const int64_t span = row_end - row_begin;
  int bits = 1;
  while (bits < 63 && (span - 1) >> bits != 0) bits++;
  const int passes = (bits + DH_RERANK_DIGIT - 1) / DH_RERANK_DIGIT, digit = (bits + passes - 1) / passes;
  const int32_t buckets = 1 << digit;
  char *mem = dh_scratch_get(DH_SCRATCH_RERANK, 2 * list + 2 * qlist + sizeof(int32_t) * (size_t)buckets);
  if (mem == NULL) {
    return -1;
  }
  uint64_t *keys = (uint64_t *)mem, *keys2 = (uint64_t *)(mem + list); /* row - row_begin << 32 | entry */
  int32_t *qs = (int32_t *)(mem + 2 * list), *qs2 = (int32_t *)(mem + 2 * list + qlist);
  int32_t *count = (int32_t *)(mem + 2 * list + 2 * qlist);
  /* the entries in range, without a branch (half of them are out of range, at random); keys and qs
   * have a slot to spare for the last write */
  int32_t n = 0;
  for (int32_t q = 0; q < nq; q++) {
    const int32_t e1 = pool_offsets[q + 1];
    for (int32_t e = pool_offsets[q]; e < e1; e++) {
      const int64_t r = pool_rows[e];
      keys[n] = (uint64_t)(r - row_begin) << 32 | (uint32_t)e;
      qs[n] = q;
      n += r >= row_begin && r < row_end;
    }
  }
  for (int pass = 0; pass < passes; pass++) {
    const int shift = 32 + digit * pass;
    memset(count, 0, sizeof(int32_t) * (size_t)buckets);
    for (int32_t i = 0; i < n; i++) count[(keys[i] >> shift) & (uint64_t)(buckets - 1)]++;
    for (int32_t d = 0, at = 0; d < buckets; d++) {
      const int32_t m = count[d];
      count[d] = at;
      at += m;
    }
    for (int32_t i = 0; i < n; i++) {
      const uint64_t key = keys[i];
      const int32_t at = count[(key >> shift) & (uint64_t)(buckets - 1)]++;
      keys2[at] = key;
      qs2[at] = qs[i];
    }
    uint64_t *tk = keys;
    keys = keys2;
    keys2 = tk;
    int32_t *tq = qs;
    qs = qs2;
    qs2 = tq;
  }
  for (int32_t i = 0; i < n; i++) {
    if (i + DH_RERANK_AHEAD < n) {
      prefetch_row(c, s8, (size_t)(row_begin + (int64_t)(keys[i + DH_RERANK_AHEAD] >> 32)));
    }
    const uint64_t key = keys[i];
    b[(uint32_t)key] = approx_bounds(c, s8, dots, &qi[qs[i]], (size_t)(row_begin + (int64_t)(key >> 32)));
  }
  dh_scratch_end(DH_SCRATCH_RERANK);
  return 0;
}

/* The checks every fine-stage entry point makes of the query block and its pools; sets *total. */
static int32_t check_pools(int32_t dim, int32_t nq, const float *queries, const int32_t *pool_offsets,
                           const int32_t *pool_rows, int32_t *total) {
  if (dim < 1 || nq < 0) {
    return DH_EINVAL;
  }
  *total = 0;
  if (nq == 0) {
    return DH_OK;
  }
  if (queries == NULL || pool_offsets == NULL || pool_offsets[0] < 0) {
    return DH_EINVAL;
  }
  for (int32_t q = 0; q < nq; q++) {
    if (pool_offsets[q + 1] < pool_offsets[q]) {
      return DH_EINVAL;
    }
  }
  *total = pool_offsets[nq] - pool_offsets[0];
  return *total > 0 && pool_rows == NULL ? DH_EINVAL : DH_OK;
}

int32_t dh_l2_rerank_bounds(int32_t tier, const float *features, int32_t dim, const float *norms,
                            const uint8_t *sq8_codes, const float *sq8_params, const float *queries, int32_t nq,
                            const int32_t *pool_offsets, const int32_t *pool_rows, int64_t row_begin,
                            int64_t row_end, float *out_bounds) {
  int32_t total = 0;
  int32_t st = dh_check_tier(tier);
  st = st == DH_OK ? check_pools(dim, nq, queries, pool_offsets, pool_rows, &total) : st;
  if (st != DH_OK || total == 0) {
    return st;
  }
  if (features == NULL || norms == NULL || out_bounds == NULL || (sq8_codes == NULL) != (sq8_params == NULL) ||
      row_begin < 0 || row_end < row_begin) {
    return DH_EINVAL;
  }
  dh_l2ctx ctx = {.features = features, .norms = norms, .dim = dim};
  margins(dim, &ctx.c, &ctx.eta);
  const l2_kernels kern = kernels_for(tier);
  const dh_l2_dots_fn dots = kern.dots;
  const sq8 s8v = {sq8_codes, sq8_params, kern.dot8};
  const sq8 *s8 = sq8_codes != NULL ? &s8v : NULL;
  bounds *b = (bounds *)out_bounds;
  qinfo *qi = malloc(sizeof(qinfo) * (size_t)nq);
  if (qi == NULL) {
    return DH_ENOMEM;
  }
  int32_t in = 0;
  for (int32_t q = 0; q < nq; q++) {
    qi[q] = qinfo_of(queries + (size_t)q * (size_t)dim, dim);
    for (int32_t e = pool_offsets[q]; e < pool_offsets[q + 1]; e++) {
      in += pool_rows[e] >= row_begin && pool_rows[e] < row_end;
    }
  }
  if (in >= DH_RERANK_SORTED_MIN) {
    st = bounds_in_row_order(&ctx, s8, dots, qi, nq, pool_offsets, pool_rows, row_begin, row_end, in, b) == 0
             ? DH_OK
             : DH_ENOMEM;
  } else {
    /* few entries: in pool order, the rows requested a few entries ahead */
    for (int32_t q = 0; q < nq; q++) {
      for (int32_t e = pool_offsets[q], ahead = e; e < pool_offsets[q + 1]; e++) {
        for (; ahead < pool_offsets[q + 1] && ahead <= e + DH_RERANK_AHEAD; ahead++) {
          if (pool_rows[ahead] >= row_begin && pool_rows[ahead] < row_end) {
            prefetch_row(&ctx, s8, (size_t)pool_rows[ahead]);
          }
        }
        if (pool_rows[e] >= row_begin && pool_rows[e] < row_end) {
          b[e] = approx_bounds(&ctx, s8, dots, &qi[q], (size_t)pool_rows[e]);
        }
      }
    }
  }
  free(qi);
  return st;
}

int32_t dh_l2_rerank_rank(const float *features, int32_t dim, const int64_t *ids, const float *queries, int32_t nq,
                          const int32_t *pool_offsets, const int32_t *pool_rows, const float *pool_bounds, int32_t k,
                          int32_t options, float *out_dist, int32_t *out_index, int32_t *out_count) {
  int32_t total = 0;
  int32_t st = k < 1 ? DH_EINVAL : check_pools(dim, nq, queries, pool_offsets, pool_rows, &total);
  if (st != DH_OK || nq == 0) {
    return st;
  }
  if (features == NULL || ids == NULL || (total > 0 && pool_bounds == NULL) || out_dist == NULL ||
      out_index == NULL || out_count == NULL) {
    return DH_EINVAL;
  }
  int32_t widest = 0;
  for (int32_t q = 0; q < nq; q++) {
    const int32_t m = pool_offsets[q + 1] - pool_offsets[q];
    widest = m > widest ? m : widest;
  }
  dh_l2ctx ctx = {.features = features, .ids = ids, .dim = dim, .k = k,
                  .ids_ascending = (options & DH_IDS_ASCENDING) != 0};
  ranked *rk = malloc(sizeof(ranked) * (size_t)(widest + 1));
  if (rk == NULL) {
    return DH_ENOMEM;
  }
  const bounds *b = (const bounds *)pool_bounds;
  for (int32_t q = 0; q < nq && st == DH_OK; q++) {
    const int32_t at = pool_offsets[q], m = pool_offsets[q + 1] - at;
    const int32_t n = rank_candidates(&ctx, queries + (size_t)q * (size_t)dim, b + at, pool_rows + at, m, rk,
                                      out_dist + (size_t)q * (size_t)k, out_index + (size_t)q * (size_t)k, 1);
    if (n < 0) {
      st = DH_ENOMEM;
    }
    out_count[q] = n;
  }
  free(rk);
  free(ctx.scratch);
  return st;
}

int32_t dh_l2_rerank(int32_t tier, const float *features, int32_t dim, const float *norms, const int64_t *ids,
                     const uint8_t *sq8_codes, const float *sq8_params, const float *queries, int32_t nq,
                     const int32_t *pool_offsets, const int32_t *pool_rows, int32_t k, int32_t options,
                     float *out_dist, int32_t *out_index, int32_t *out_count) {
  int32_t total = 0;
  int32_t st = dh_check_tier(tier);
  st = st == DH_OK ? check_pools(dim, nq, queries, pool_offsets, pool_rows, &total) : st;
  if (st != DH_OK || nq == 0) {
    return st;
  }
  if (k < 1) {
    return DH_EINVAL;
  }
  float *bnd = malloc(sizeof(bounds) * ((size_t)pool_offsets[nq] + 1)); /* indexed like pool_rows */
  if (bnd == NULL) {
    return DH_ENOMEM;
  }
  st = dh_l2_rerank_bounds(tier, features, dim, norms, sq8_codes, sq8_params, queries, nq, pool_offsets, pool_rows,
                           0, (int64_t)INT32_MAX + 1, bnd);
  if (st == DH_OK) {
    st = dh_l2_rerank_rank(features, dim, ids, queries, nq, pool_offsets, pool_rows, bnd, k, options, out_dist,
                           out_index, out_count);
  }
  free(bnd);
  return st;
}
