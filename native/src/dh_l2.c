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
 */
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

/*
 * The reference ranking of the candidates cand[0, n) (rows, with approximate distances a): keeps
 * those that can be among the best k, computes their reference distance, and writes the best k
 * by (distance, id). out_ref[i] is the candidate's index in cand. xx[i] is the squared norm of
 * the candidate's row (NULL: read from the table's norms). Without cut every candidate is ranked
 * (infinite margins). Returns the count written, or -1 when scratch memory ran out.
 */
static int32_t rank_candidates(dh_l2ctx *c, const float *q, double qq, const float *a, const float *xx,
                               const int32_t *rows, int32_t n, ranked *buf, float *out_dist, int32_t *out_ref,
                               int cut) {
  double t = __builtin_inf();
  if (cut && n > c->k) {
    if (!ensure_scratch(c, n)) {
      return -1;
    }
    for (int32_t i = 0; i < n; i++) {
      c->scratch[i] = (double)a[i] + c->c * (qq + (xx != NULL ? xx[i] : c->norms[rows[i]])) + c->eta;
    }
    t = kth_smallest(c->scratch, n, c->k - 1);
  }
  int32_t m = 0;
  for (int32_t i = 0; i < n; i++) {
    const double lower = (double)a[i] - c->c * (qq + (xx != NULL ? xx[i] : c->norms[rows[i]])) - c->eta;
    if (lower <= t) {
      buf[m] = rank_of(c, dh_l2_exact(q, c->features + (size_t)rows[i] * (size_t)c->dim, c->dim), rows[i]);
      buf[m].row = i; /* the candidate's index; its table row is rows[i] */
      buf[m].key = key_of(c, rows[i]);
      m++;
    }
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

static dh_l2_scan_fn scan_for(int32_t tier) {
#ifdef DH_HAVE_X86_TIERS
  if (tier == DH_TIER_AVX512) return dh_l2_scan_avx512;
  if (tier == DH_TIER_AVX2) return dh_l2_scan_avx2;
#endif
  (void)tier;
  return dh_l2_scan_scalar;
}

static dh_l2_dots_fn dots_for(int32_t tier) {
#ifdef DH_HAVE_X86_TIERS
  if (tier == DH_TIER_AVX512) return dh_l2_dots_avx512;
  if (tier == DH_TIER_AVX2) return dh_l2_dots_avx2;
#endif
  (void)tier;
  return dh_l2_dots_scalar;
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
  int32_t *idx = malloc(sizeof(int32_t) * (size_t)keff);
  int32_t *exact = calloc((size_t)nq, sizeof(int32_t));
  st = sels == NULL || rk == NULL || idx == NULL || exact == NULL ? DH_ENOMEM : DH_OK;
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
    const dh_l2_scan_fn scan = scan_for(tier);
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
      if (grown == NULL) {
        st = DH_ENOMEM;
        break;
      }
      rk = grown;
    }
    const int32_t m = rank_candidates(&ctx, qv, s->qq, s->a, NULL, s->row, s->n, rk, od, idx, 1);
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
  free(idx);
  free(exact);
  free(ctx.scratch);
  return st;
}

/* Pool rows gathered per block: their features are copied next to each other (one block stays in
 * L1), the copies of the next block's rows already requested. */
#define DH_RERANK_BLOCK 32
/* From this many pool entries in a call, their dot products are computed in table order (see
 * dots_in_row_order). */
#define DH_RERANK_SORTED_MIN 65536
/* Rows requested ahead of the one being read, in table order. */
#define DH_RERANK_AHEAD 16

/*
 * The approximate distances of every pool entry of the call (entry e: row pool_rows[e], the query
 * whose pool holds it) into av[e] and the row's squared norm into xv[e], visiting the rows in table order; the
 * largest norm of each query's pool into xxmax[q]. A call's pools hold hundreds of thousands of
 * scattered rows of a table too large for the caches; read in table order, consecutive rows share
 * DRAM pages and the prefetches run ahead on a predictable path (on the development VM a gather of
 * 500k rows of a million, 512 bytes each, took about 35 ns a row in order against 45-80 ns in pool
 * order). The order is a two-pass radix sort of (row, entry) keys by row (16-bit digits), each key
 * moved with its query: the loop over the sorted keys then reads nothing out of order but the
 * rows themselves (looking the query and the row up by entry, at random, took half its time).
 * work: 6 lists of `list` bytes and 2 x 65536 counts.
 */
static void approx_in_row_order(dh_l2_dots_fn dots, const float *features, const float *norms, int32_t dim,
                                const float *queries, int32_t nq, const double *qqv, const int32_t *pool_offsets,
                                const int32_t *pool_rows, char *work, size_t list, float *av, float *xv,
                                double *xxmax) {
  const int32_t base = pool_offsets[0];
  const int32_t total = pool_offsets[nq] - base;
  uint64_t *keys = (uint64_t *)work, *keys2 = (uint64_t *)(work + 2 * list);
  int32_t *qs = (int32_t *)(work + 4 * list), *qs2 = (int32_t *)(work + 5 * list);
  int32_t *count = (int32_t *)(work + 6 * list);
  const int32_t *rows = pool_rows + base; /* entry e's row */
  memset(count, 0, sizeof(int32_t) * 2 * 65536);
  for (int32_t q = 0; q < nq; q++) {
    xxmax[q] = 0;
    for (int32_t e = pool_offsets[q] - base; e < pool_offsets[q + 1] - base; e++) {
      const uint32_t r = (uint32_t)rows[e];
      keys[e] = (uint64_t)r << 32 | (uint32_t)e;
      qs[e] = q;
      count[r & 0xFFFF]++;
      count[65536 + (r >> 16)]++;
    }
  }
  /* low digit: keys into keys2; high digit: back (stable, so rows end up ascending) */
  for (int pass = 0; pass < 2; pass++) {
    int32_t *c = count + 65536 * pass;
    for (int32_t d = 0, at = 0; d < 65536; d++) {
      const int32_t m = c[d];
      c[d] = at;
      at += m;
    }
    const uint64_t *src = pass == 0 ? keys : keys2;
    const int32_t *srcq = pass == 0 ? qs : qs2;
    uint64_t *dst = pass == 0 ? keys2 : keys;
    int32_t *dstq = pass == 0 ? qs2 : qs;
    const int shift = 32 + 16 * pass;
    for (int32_t i = 0; i < total; i++) {
      const uint64_t key = src[i];
      const int32_t at = c[(key >> shift) & 0xFFFF]++;
      dst[at] = key;
      dstq[at] = srcq[i];
    }
  }
  for (int32_t i = 0; i < total; i++) {
    if (i + DH_RERANK_AHEAD < total) {
      const char *next = (const char *)(features + (size_t)(keys[i + DH_RERANK_AHEAD] >> 32) * (size_t)dim);
      for (size_t off = 0; off < sizeof(float) * (size_t)dim; off += 64) __builtin_prefetch(next + off);
    }
    const uint64_t key = keys[i];
    const size_t row = (size_t)(key >> 32);
    const int32_t q = qs[i];
    float dot;
    dots(features + row * (size_t)dim, 1, dim, queries + (size_t)q * (size_t)dim, &dot);
    const float xx = norms[row];
    const uint32_t e = (uint32_t)key;
    xxmax[q] = xx > xxmax[q] ? xx : xxmax[q];
    av[e] = (float)(qqv[q] + xx) - 2 * dot;
    xv[e] = xx;
  }
}

int32_t dh_l2_rerank(int32_t tier, const float *features, int32_t dim, const float *norms, const int64_t *ids,
                     const float *queries, int32_t nq, const int32_t *pool_offsets, const int32_t *pool_rows,
                     int32_t k, int32_t options, float *out_dist, int32_t *out_index, int32_t *out_count) {
  int32_t st = dh_check_tier(tier);
  if (st != DH_OK) {
    return st;
  }
  if (dim < 1 || nq < 0 || k < 1) {
    return DH_EINVAL;
  }
  if (nq == 0) {
    return DH_OK;
  }
  if (features == NULL || norms == NULL || ids == NULL || queries == NULL || pool_offsets == NULL ||
      out_dist == NULL || out_index == NULL || out_count == NULL) {
    return DH_EINVAL;
  }
  int32_t widest = 0;
  for (int32_t q = 0; q < nq; q++) {
    const int32_t m = pool_offsets[q + 1] - pool_offsets[q];
    if (m < 0 || pool_offsets[q] < 0) {
      return DH_EINVAL;
    }
    widest = m > widest ? m : widest;
  }
  if (widest > 0 && pool_rows == NULL) {
    return DH_EINVAL;
  }
  dh_l2ctx ctx = {.features = features, .norms = norms, .ids = ids, .dim = dim, .k = k,
                  .ids_ascending = (options & DH_IDS_ASCENDING) != 0};
  margins(dim, &ctx.c, &ctx.eta);
  const dh_l2_dots_fn dots = dots_for(tier);
  float *block = malloc(sizeof(float) * DH_RERANK_BLOCK * (size_t)dim + 64);
  float *a = malloc(sizeof(float) * (size_t)(widest + 1));
  ranked *rk = malloc(sizeof(ranked) * (size_t)(widest + 1));
  if (block == NULL || a == NULL || rk == NULL) {
    free(block);
    free(a);
    free(rk);
    return DH_ENOMEM;
  }
  /* many entries: every approximate distance first, in table order (av[e], xv[e] for entry e of the
   * call), in the thread's scratch (fresh memory came back as new pages on every call: 61 ms
   * against 44 in a C harness of 1000 pools of 1000 rows on 2 threads) */
  const int32_t total = pool_offsets[nq] - pool_offsets[0];
  const size_t list = dh_round64((size_t)total * sizeof(int32_t)), per_q = dh_round64(sizeof(double) * (size_t)nq);
  char *mem = total >= DH_RERANK_SORTED_MIN
                  ? dh_scratch_get(DH_SCRATCH_RERANK, 8 * list + sizeof(int32_t) * 2 * 65536 + 2 * per_q)
                  : NULL;
  float *av = (float *)mem, *xv = mem != NULL ? (float *)(mem + list) : NULL;
  double *qqv = mem != NULL ? (double *)(mem + 2 * list) : NULL;
  double *xxm = mem != NULL ? (double *)(mem + 2 * list + per_q) : NULL;
  if (mem != NULL) {
    for (int32_t q = 0; q < nq; q++) {
      qqv[q] = dh_l2_norm(queries + (size_t)q * (size_t)dim, dim);
    }
    approx_in_row_order(dots, features, norms, dim, queries, nq, qqv, pool_offsets, pool_rows,
                        mem + 2 * list + 2 * per_q, list, av, xv, xxm);
  }
  for (int32_t q = 0; q < nq && st == DH_OK; q++) {
    const float *qv = queries + (size_t)q * (size_t)dim;
    const int32_t *rows = pool_rows + pool_offsets[q];
    const int32_t m = pool_offsets[q + 1] - pool_offsets[q];
    float *od = out_dist + (size_t)q * (size_t)k;
    int32_t *oi = out_index + (size_t)q * (size_t)k;
    /* the pool's approximate distances and norms: computed in table order already, or gathered now */
    const float *aq = a, *xq = NULL;
    double qq, xxmax = 0;
    if (mem != NULL) {
      const int32_t at = pool_offsets[q] - pool_offsets[0];
      qq = qqv[q];
      xxmax = xxm[q];
      aq = av + at;
      xq = xv + at;
    } else {
      qq = dh_l2_norm(qv, dim);
      for (int32_t i = 0; i < m; i++) {
        xxmax = norms[rows[i]] > xxmax ? norms[rows[i]] : xxmax;
      }
    }
    if (!in_range(qq, xxmax)) {
      /* margins would be infinite: every candidate gets its reference distance */
      for (int32_t i = 0; i < m; i++) a[i] = 0;
      const int32_t n = rank_candidates(&ctx, qv, qq, a, xq, rows, m, rk, od, oi, 0);
      out_count[q] = n;
      st = n < 0 ? DH_ENOMEM : DH_OK;
      continue;
    }
    if (mem == NULL) {
      for (int32_t b0 = 0; b0 < m; b0 += DH_RERANK_BLOCK) {
        const int32_t bn = m - b0 < DH_RERANK_BLOCK ? m - b0 : DH_RERANK_BLOCK;
        for (int32_t i = 0; i < bn; i++) {
          const float *src = features + (size_t)rows[b0 + i] * (size_t)dim;
          if (b0 + DH_RERANK_BLOCK + i < m) {
            const char *next = (const char *)(features + (size_t)rows[b0 + DH_RERANK_BLOCK + i] * (size_t)dim);
            for (size_t off = 0; off < sizeof(float) * (size_t)dim; off += 64) __builtin_prefetch(next + off);
          }
          memcpy(block + (size_t)i * (size_t)dim, src, sizeof(float) * (size_t)dim);
        }
        dots(block, bn, dim, qv, a + b0);
      }
      for (int32_t i = 0; i < m; i++) {
        a[i] = (float)(qq + norms[rows[i]]) - 2 * a[i];
      }
    }
    const int32_t n = rank_candidates(&ctx, qv, qq, aq, xq, rows, m, rk, od, oi, 1);
    if (n < 0) {
      st = DH_ENOMEM;
      break;
    }
    out_count[q] = n;
  }
  free(block);
  free(a);
  free(rk);
  free(ctx.scratch);
  if (mem != NULL) {
    dh_scratch_end(DH_SCRATCH_RERANK);
  }
  return st;
}
