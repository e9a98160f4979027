/*
 * Exactness test of every tier this CPU supports against a brute-force reference: widths that hit
 * every specialisation, ranges that start mid-table, duplicates, ties broken by non-monotone ids,
 * tombstones, k above the range size, radius caps. Exits non-zero on the first mismatch.
 */
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deephash.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next64(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

typedef struct {
  int32_t d;
  int64_t id;
  int32_t row;
} ent;

static int cmp_ent(const void *a, const void *b) {
  const ent *x = a, *y = b;
  if (x->d != y->d) return x->d < y->d ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

static int32_t ref_dist(const uint8_t *a, const uint8_t *b, int32_t cb) {
  int32_t d = 0;
  for (int32_t i = 0; i < cb; i++) d += __builtin_popcount((unsigned)(a[i] ^ b[i]));
  return d;
}

static int failures = 0;

/* The reference distance, as the Java oracle sums it (this file is built with -ffp-contract=off). */
static float ref_l2(const float *a, const float *b, int32_t dim) {
  float s = 0;
  for (int32_t j = 0; j < dim; j++) {
    const float d = a[j] - b[j];
    s += d * d;
  }
  return s;
}

typedef struct {
  float d;
  int64_t id;
  int32_t row;
} fent;

static int cmp_fent(const void *a, const void *b) {
  const fent *x = a, *y = b;
  if (x->d != y->d) return x->d < y->d ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

/* The 8-bit copy: golden codes of a small row, a constant row, a row whose range overflows float, and
 * on random rows a bound that holds (>= ||x - x^|| in long double) and is tight (within 5%: the
 * rest covers the rounding of the first pass's dot products). */
static void check_sq8(void) {
  const float rows[4][4] = {{0, 1, 2.5f, -1}, {0.75f, 0.75f, 0.75f, 0.75f}, {-3e38f, 3e38f, 0, 1}, {1, 2, 3, 4}};
  uint8_t c[16];
  float p[16];
  int32_t st = dh_l2_sq8(&rows[0][0], 4, 0, 4, c, p);
  const uint8_t want0[4] = {73, 146, 255, 0};
  if (st != DH_OK || memcmp(c, want0, 4) != 0 || p[0] != -1 || p[1] != 3.5f / 255 || !(p[2] > 0) ||
      p[3] != 0 + 1 + 6.25f + 1) {
    printf("FAIL sq8 golden row: st %d codes %d %d %d %d lo %g step %g\n", st, c[0], c[1], c[2], c[3], p[0], p[1]);
    failures++;
  }
  if (c[4] != 0 || c[7] != 0 || p[4] != 0.75f || p[5] != 0 || !(p[6] >= 0 && p[6] < 1e-4f)) {
    printf("FAIL sq8 constant row: codes %d lo %g step %g bound %g\n", c[4], p[4], p[5], p[6]);
    failures++;
  }
  if (p[10] != __builtin_inff()) {
    printf("FAIL sq8 overflowing range: bound %g, want inf\n", p[10]);
    failures++;
  }
  if (dh_l2_sq8(&rows[0][0], 0, 0, 1, c, p) != DH_EINVAL || dh_l2_sq8(&rows[0][0], 4, 1, 0, c, p) != DH_EINVAL ||
      dh_l2_sq8(NULL, 4, 0, 1, c, p) != DH_EINVAL || dh_l2_sq8(NULL, 4, 2, 2, NULL, NULL) != DH_OK) {
    printf("FAIL sq8 argument checks\n");
    failures++;
  }
  enum { DIM = 128, N = 200 };
  float *f = malloc(sizeof(float) * DIM * N), *pp = malloc(sizeof(float) * 4 * N);
  uint8_t *cc = malloc(DIM * N);
  for (int32_t i = 0; i < DIM * N; i++) f[i] = (float)((next64() >> 11) * 0x1.0p-53) * (i % 3 == 0 ? 50 : 2) - 1;
  dh_l2_sq8(f, DIM, 0, N, cc, pp);
  for (int32_t r = 0; r < N; r++) {
    long double e2 = 0;
    for (int32_t d = 0; d < DIM; d++) {
      const long double e = (long double)f[r * DIM + d] - ((long double)pp[4 * r] + (long double)pp[4 * r + 1] *
                                                            cc[r * DIM + d]);
      e2 += e * e;
    }
    const double err = (double)sqrtl(e2), b = pp[4 * r + 2];
    if (!(b >= err) || !(b <= err * 1.05)) {
      printf("FAIL sq8 bound row %d: %g for an error of %g\n", r, b, err);
      failures++;
      break;
    }
  }
  free(f);
  free(pp);
  free(cc);
}

/* Whether query q's output (count oc[q], od and orow at q * k) is the best min(m, k) of the sorted
 * reference all[0, m), distances bit for bit. */
static int matches_reference(const fent *all, int32_t m, int32_t k, int32_t q, int32_t st, const float *od,
                             const int32_t *orow, const int32_t *oc) {
  const int32_t want = m < k ? m : k;
  int ok = st == DH_OK && oc[q] == want;
  for (int32_t i = 0; ok && i < want; i++) {
    ok = memcmp(&od[(size_t)q * k + i], &all[i].d, 4) == 0 && orow[(size_t)q * k + i] == all[i].row;
  }
  return ok;
}

/*
 * Euclidean search against brute force, bit for bit: exhaustive top-k and the re-ranking of random
 * pools. mode 0: uniform features; 1: many exact duplicates (ties broken by id); 2: near-duplicates
 * (distances within the kernels' rounding of each other); 3: values near 1e19 whose squares
 * overflow float (the exact fallback); 4: one outlier a row (+-1000: an 8-bit copy's step is
 * coarse, its margins wide); 5: constant rows (a step of 0) and rows of subnormal values.
 * The re-rank runs without the 8-bit copy of dh_l2_sq8, with it, and with it in two passes (bounds
 * over three row ranges, then the ranking) as the native backend runs a large batch.
 */
static void check_l2(int32_t tier, int32_t dim, int32_t n, int32_t nq, int32_t k, int mode, int tomb, int asc) {
  float *f = malloc(sizeof(float) * ((size_t)n * dim + 16)), *qs = malloc(sizeof(float) * ((size_t)nq * dim + 16));
  float *norms = malloc(sizeof(float) * (size_t)(n + 1));
  int64_t *ids = malloc(sizeof(int64_t) * (size_t)(n + 1));
  uint64_t *tb = calloc((size_t)(n / 64 + 1), 8);
  for (int32_t r = 0; r < n; r++) {
    for (int32_t j = 0; j < dim; j++) {
      float v = (float)((next64() >> 11) * 0x1.0p-53) * 2 - 1;
      if (mode == 1 && r > 0 && r % 3 != 0) v = f[(size_t)(r - 1) * dim + j];
      if (mode == 2 && r > 0 && r % 2 == 1) v = f[(size_t)(r - 1) * dim + j] * (1 + 1e-7f * (float)(int)(next64() % 5));
      if (mode == 3) v *= 3e19f;
      if (mode == 4 && j == r % dim) v = v < 0 ? -1000.0f : 1000.0f;
      if (mode == 5) v = r % 2 == 0 ? (float)(r % 7) * 0.25f : v * 1e-40f;
      f[(size_t)r * dim + j] = v;
    }
    ids[r] = asc ? (int64_t)r * 5 - 7 : (int64_t)(next64() >> 2) - (int64_t)(next64() >> 3);
    if (tomb && next64() % 4 == 0) tb[r / 64] |= 1ULL << (r % 64);
  }
  for (int32_t q = 0; q < nq; q++) {
    for (int32_t j = 0; j < dim; j++) {
      float v = (float)((next64() >> 11) * 0x1.0p-53) * 2 - 1;
      if (q % 2 == 1 && n > 0) v = f[(size_t)(next64() % (uint64_t)n) * dim + j];
      if (mode == 3) v = q % 2 ? v : v * 3e19f;
      qs[(size_t)q * dim + j] = v;
    }
  }
  if (dh_l2_norms(f, dim, 0, n, norms) != DH_OK) {
    printf("FAIL l2 norms\n");
    failures++;
  }
  float *od = malloc(sizeof(float) * (size_t)nq * k);
  int32_t *orow = malloc(sizeof(int32_t) * (size_t)nq * k), *oc = malloc(sizeof(int32_t) * (size_t)nq);
  const int32_t opt = asc ? DH_IDS_ASCENDING : 0;
  int32_t st = dh_l2_topk(tier, f, dim, norms, 0, n, ids, tomb ? tb : NULL, qs, nq, k, opt, od, orow, oc);
  fent *all = malloc(sizeof(fent) * (size_t)(n + 1));
  for (int32_t q = 0; q < nq; q++) {
    int32_t m = 0;
    for (int32_t r = 0; r < n; r++) {
      if (tomb && ((tb[r / 64] >> (r % 64)) & 1)) continue;
      all[m++] = (fent){ref_l2(qs + (size_t)q * dim, f + (size_t)r * dim, dim), ids[r], r};
    }
    qsort(all, (size_t)m, sizeof(fent), cmp_fent);
    if (!matches_reference(all, m, k, q, st, od, orow, oc)) {
      printf("FAIL l2 topk tier=%d dim=%d n=%d k=%d mode=%d tomb=%d asc=%d q=%d: status %d count %d of %d\n", tier,
             dim, n, k, mode, tomb, asc, q, st, st == DH_OK ? oc[q] : -1, m);
      failures++;
      break;
    }
  }
  /* pools: random distinct live rows, of varying sizes (some empty) */
  int32_t *off = malloc(sizeof(int32_t) * (size_t)(nq + 1)), *pool = malloc(sizeof(int32_t) * (size_t)nq * (n + 1));
  char *used = calloc((size_t)n + 1, 1);
  off[0] = 0;
  for (int32_t q = 0; q < nq; q++) {
    int32_t want = n == 0 ? 0 : (int32_t)(next64() % (uint64_t)(n + 1));
    memset(used, 0, (size_t)n + 1);
    int32_t m = 0;
    for (int32_t t = 0; t < want; t++) {
      int32_t r = (int32_t)(next64() % (uint64_t)n);
      if (used[r] || (tomb && ((tb[r / 64] >> (r % 64)) & 1))) continue;
      used[r] = 1;
      pool[off[q] + m++] = r;
    }
    off[q + 1] = off[q] + m;
  }
  uint8_t *codes8 = malloc((size_t)n * dim + 1);
  float *params8 = malloc(sizeof(float) * 4 * ((size_t)n + 1));
  if (dh_l2_sq8(f, dim, 0, n, codes8, params8) != DH_OK) {
    printf("FAIL l2 sq8\n");
    failures++;
  }
  float *bnd = malloc(sizeof(float) * 2 * ((size_t)off[nq] + 1));
  for (int way = 0; way < 3; way++) { /* without the 8-bit copy, with it, with it in three row ranges */
    const int use8 = way > 0;
    if (way < 2) {
      st = dh_l2_rerank(tier, f, dim, norms, ids, use8 ? codes8 : NULL, use8 ? params8 : NULL, qs, nq, off, pool, k,
                        opt, od, orow, oc);
    } else {
      st = DH_OK;
      for (int part = 0; part < 3 && st == DH_OK; part++) {
        st = dh_l2_rerank_bounds(tier, f, dim, norms, codes8, params8, qs, nq, off, pool, (int64_t)n * part / 3,
                                 (int64_t)n * (part + 1) / 3, bnd);
      }
      st = st == DH_OK ? dh_l2_rerank_rank(f, dim, ids, qs, nq, off, pool, bnd, k, opt, od, orow, oc) : st;
    }
    for (int32_t q = 0; q < nq; q++) {
      const int32_t m = off[q + 1] - off[q];
      for (int32_t i = 0; i < m; i++) {
        const int32_t r = pool[off[q] + i];
        all[i] = (fent){ref_l2(qs + (size_t)q * dim, f + (size_t)r * dim, dim), ids[r], i};
      }
      qsort(all, (size_t)m, sizeof(fent), cmp_fent);
      if (!matches_reference(all, m, k, q, st, od, orow, oc)) {
        printf("FAIL l2 rerank tier=%d dim=%d n=%d k=%d mode=%d asc=%d way=%d q=%d: status %d count %d of %d\n",
               tier, dim, n, k, mode, asc, way, q, st, st == DH_OK ? oc[q] : -1, m);
        failures++;
        break;
      }
    }
  }
  free(codes8);
  free(params8);
  free(bnd);
  free(f);
  free(qs);
  free(norms);
  free(ids);
  free(tb);
  free(od);
  free(orow);
  free(oc);
  free(all);
  free(off);
  free(pool);
  free(used);
}

static void check(int32_t tier, int32_t cb, int32_t n, int32_t r0, int32_t r1, int32_t nq, int32_t k,
                  int32_t max_dist, int dup, int tomb) {
  /* every other check gives ascending ids and says so (ties then ordered by row, no id read) */
  static int call = 0;
  const int asc = (call++ & 1) != 0;
  uint8_t *codes = calloc((size_t)n * cb + 64, 1);
  uint8_t *queries = calloc((size_t)nq * cb + 64, 1);
  int64_t *ids = malloc(sizeof(int64_t) * (size_t)(n + 1));
  uint64_t *tb = calloc((size_t)(n / 64 + 1), 8);
  for (int32_t r = 0; r < n; r++) {
    if (dup == 2) {
      /* sparse codes: few bits set, so distances cluster and most rows tie with others */
      for (int32_t i = 0; i < cb; i++) codes[(size_t)r * cb + i] = next64() % 8 == 0 ? (uint8_t)(1u << (next64() % 8)) : 0;
    } else if (dup && r > 0 && next64() % 2 == 0) {
      memcpy(codes + (size_t)r * cb, codes + (size_t)(next64() % (uint64_t)r) * cb, (size_t)cb);
    } else {
      for (int32_t i = 0; i < cb; i++) codes[(size_t)r * cb + i] = (uint8_t)next64();
    }
    ids[r] = asc ? (int64_t)r * 3 - 1000 : (int64_t)(next64() >> 1) * (next64() % 2 ? 1 : -1);
    if (tomb && next64() % 5 == 0) tb[r / 64] |= 1ULL << (r % 64);
  }
  for (int32_t q = 0; q < nq; q++) {
    if (n > 0 && q % 2 == 1) {
      memcpy(queries + (size_t)q * cb, codes + (size_t)(next64() % (uint64_t)n) * cb, (size_t)cb);
    } else {
      for (int32_t i = 0; i < cb; i++) queries[(size_t)q * cb + i] = (uint8_t)next64();
    }
  }
  int32_t *od = malloc(sizeof(int32_t) * (size_t)nq * k), *orow = malloc(sizeof(int32_t) * (size_t)nq * k);
  int32_t *oc = malloc(sizeof(int32_t) * (size_t)nq), *of = malloc(sizeof(int32_t) * (size_t)nq);
  int32_t st = dh_hamming_topk(tier, codes, cb, r0, r1, ids, tomb ? tb : NULL, queries, nq, k, max_dist,
                               asc ? DH_IDS_ASCENDING : 0, od, orow,
                               oc, of);
  if (st != DH_OK) {
    printf("FAIL status %d tier=%d cb=%d n=%d\n", st, tier, cb, n);
    failures++;
  }
  ent *all = malloc(sizeof(ent) * (size_t)(n + 1));
  for (int32_t q = 0; st == DH_OK && q < nq; q++) {
    int32_t m = 0;
    for (int32_t r = r0; r < r1; r++) {
      if (tomb && ((tb[r / 64] >> (r % 64)) & 1)) continue;
      int32_t d = ref_dist(queries + (size_t)q * cb, codes + (size_t)r * cb, cb);
      if (d <= max_dist) all[m++] = (ent){d, ids[r], r};
    }
    qsort(all, (size_t)m, sizeof(ent), cmp_ent);
    int32_t want = m < k ? m : k;
    int ok = oc[q] == want && (of[q] != 0) == (m > k);
    for (int32_t i = 0; ok && i < want; i++) {
      ok = od[(size_t)q * k + i] == all[i].d && orow[(size_t)q * k + i] == all[i].row;
    }
    if (!ok) {
      printf("FAIL tier=%d cb=%d n=%d range=[%d,%d) k=%d max_dist=%d dup=%d tomb=%d asc=%d q=%d: count %d want %d flag %d\n",
             tier, cb, n, r0, r1, k, max_dist, dup, tomb, asc, q, oc[q], want, of[q]);
      failures++;
      break;
    }
  }
  free(all);
  free(codes);
  free(queries);
  free(ids);
  free(tb);
  free(od);
  free(orow);
  free(oc);
  free(of);
}

int main(void) {
  if (dh_abi_version() != DH_ABI_VERSION) {
    printf("FAIL abi version %d\n", dh_abi_version());
    return 1;
  }
  const int32_t widths[] = {1, 3, 6, 7, 8, 9, 16, 24, 25, 32, 40, 64, 65, 96, 100, 128, 512};
  const int32_t sizes[] = {0, 1, 3, 7, 100, 1003};
  int32_t top = dh_cpu_tier();
  printf("cpu tier %d\n", top);
  int checks = 0;
  for (int32_t tier = DH_TIER_SCALAR; tier <= top; tier++) {
    for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
      int32_t cb = widths[w], bits = 8 * cb;
      for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        int32_t n = sizes[s];
        const int32_t ks[] = {1, 2, 10, n > 0 ? n : 1, n + 5};
        for (size_t ki = 0; ki < 5; ki++) {
          for (int variant = 0; variant < 4; variant++) {
            int dup = variant & 1, tomb = (variant >> 1) & 1;
            int32_t r0 = (n > 10 && variant == 3) ? n / 3 : 0;
            int32_t r1 = (n > 10 && variant == 3) ? n - 2 : n;
            check(tier, cb, n, r0, r1, 9, ks[ki], bits, dup, tomb);
            if (ki == 1 || ki == 4) check(tier, cb, n, r0, r1, cb == 8 ? 11 : 70, ks[ki], bits, dup, tomb); /* planar kernel */
            check(tier, cb, n, r0, r1, 5, ks[ki], bits / 2 - 2 > 0 ? bits / 2 - 2 : 0, dup, tomb);
            check(tier, cb, n, r0, r1, 5, ks[ki], 0, 1, tomb);
            checks += 3 + (ki == 1 || ki == 4);
          }
        }
      }
    }
    /* a tier above the CPU's is refused, never executed */
  }
  if (dh_hamming_topk(top + 1, NULL, 8, 0, 0, NULL, NULL, NULL, 0, 1, 0, 0, NULL, NULL, NULL, NULL) !=
      (top + 1 > DH_TIER_AVX512 ? DH_EINVAL : DH_EUNSUPPORTED)) {
    printf("FAIL unsupported tier accepted\n");
    failures++;
  }
  if (dh_hamming_topk(DH_TIER_SCALAR, NULL, 8, 0, 10, NULL, NULL, NULL, 1, 0, 0, 0, NULL, NULL, NULL, NULL) != DH_EINVAL) {
    printf("FAIL k=0 accepted\n");
    failures++;
  }
  /* Large tables and large k: many compactions, the tie cut (sparse codes tie massively), row ranges
   * that start mid-table, tombstones, and every vector kernel's tail. */
  const int32_t big_widths[] = {1, 5, 8, 16, 25, 32, 64};
  for (int32_t tier = DH_TIER_SCALAR; tier <= top; tier++) {
    for (size_t w = 0; w < sizeof(big_widths) / sizeof(big_widths[0]); w++) {
      int32_t cb = big_widths[w], bits = 8 * cb;
      const int32_t ks[] = {1, 37, 1000, 4099};
      for (size_t ki = 0; ki < 4; ki++) {
        for (int mode = 0; mode < 3; mode++) {
          check(tier, cb, 30011, 0, 30011, 13, ks[ki], bits, mode, mode == 1);
          check(tier, cb, 30011, 1001, 29000, 70, ks[ki], bits, mode, mode != 1);
          check(tier, cb, 30011, 0, 30011, 3, ks[ki], bits / 3, mode, 1);
          checks += 3;
        }
      }
    }
  }
  check_sq8();
  checks++;
  /* Euclidean search: every tier, dims that hit every tail, sizes around the panel widths. */
  for (int32_t tier = DH_TIER_SCALAR; tier <= top; tier++) {
    const int32_t dims[] = {1, 3, 7, 16, 17, 33, 128, 300};
    const int32_t ns[] = {0, 1, 5, 31, 33, 100, 2000};
    for (size_t di = 0; di < sizeof(dims) / sizeof(dims[0]); di++) {
      for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++) {
        for (int mode = 0; mode < 6; mode++) {
          const int32_t ks[] = {1, 10, 257};
          for (int ki = 0; ki < 3; ki++) {
            check_l2(tier, dims[di], ns[ni], ki == 1 ? 13 : 5, ks[ki], mode, (ki + mode) % 2, (ki + (int)ni) % 2);
            checks++;
          }
        }
      }
    }
    check_l2(tier, 64, 20000, 21, 10, 0, 1, 0); /* many buffer compactions */
    check_l2(tier, 64, 20000, 9, 1000, 2, 0, 1);
    /* pools of more than 65536 entries in all, over more than 65536 rows: the rerank's table-order
     * path, both digits of its radix sort */
    check_l2(tier, 8, 70000, 5, 10, 1, 0, 1);
    check_l2(tier, 8, 70000, 5, 10, 3, 1, 0);
    check_l2(tier, 128, 70000, 5, 10, 2, 0, 1); /* near-duplicates through the 8-bit copy in table order */
    check_l2(tier, 33, 70000, 5, 100, 4, 0, 0);
    checks += 6;
  }
  /* A sample that represents the rows: random codes, a batch of 64 queries and k = 1000 over
   * 300000 rows start from the batch's sampled threshold, which is above the k-th distance for
   * every query, so none is searched twice. (Exact either way: check() compares with the oracle.) */
  for (int32_t tier = DH_TIER_SCALAR; tier <= top; tier++) {
    const int64_t before = dh_topk_searched_again();
    check(tier, 8, 300000, 0, 300000, 64, 1000, 64, 0, 0);
    const int64_t again = dh_topk_searched_again() - before;
    if (again != 0) {
      printf("FAIL representative sample tier=%d: %lld of 64 queries searched again\n", tier, (long long)again);
      failures++;
    }
    checks++;
  }
  /* A sample that misleads: the rows the starting threshold of a large k is sampled from (every
   * (rows / S)-th: S = 4096 rows for one query, 32768 for a batch of 64 or more) equal the query,
   * all others are its complement, so the sample puts the k-th distance at 0 while only S rows are
   * there: every query must be searched again from B. */
  for (int32_t tier = DH_TIER_SCALAR; tier <= top; tier++) {
    for (int batch = 0; batch < 2; batch++) {
      const int32_t s = batch ? 32768 : 4096, n = batch ? 300000 : 40000, nq = batch ? 64 : 1;
      const int32_t cb = 8, k = s + 904;
      uint8_t *codes = calloc((size_t)n * cb + 64, 1), *queries = calloc((size_t)nq * cb + 64, 1);
      int64_t *ids = malloc(sizeof(int64_t) * n);
      char *sampled = calloc((size_t)n, 1);
      for (int64_t i = 0; i < s; i++) sampled[i * (n / s)] = 1;
      for (int32_t r = 0; r < n; r++) {
        memset(codes + (size_t)r * cb, sampled[r] ? 0 : 0xff, (size_t)cb);
        ids[r] = r;
      }
      int32_t *od = malloc(sizeof(int32_t) * (size_t)k * nq), *orow = malloc(sizeof(int32_t) * (size_t)k * nq);
      int32_t *oc = calloc((size_t)nq, sizeof(int32_t)), *of = calloc((size_t)nq, sizeof(int32_t));
      int32_t st = dh_hamming_topk(tier, codes, cb, 0, n, ids, NULL, queries, nq, k, 64, DH_IDS_ASCENDING, od, orow, oc,
                                   of);
      for (int32_t q = 0; q < nq; q++) {
        const int32_t *d = od + (size_t)q * k, *rw = orow + (size_t)q * k;
        int ok = st == DH_OK && oc[q] == k && of[q] == DH_FLAG_TRUNCATED && d[s - 1] == 0 && d[s] == 64;
        for (int32_t i = s; ok && i < k; i++) ok = !sampled[rw[i]] && (i == s || rw[i] > rw[i - 1]);
        if (!ok) {
          printf("FAIL misleading sample tier=%d S=%d q=%d: status %d count %d d[S-1] %d d[S] %d\n", tier, s, q, st,
                 oc[q], d[s - 1], d[s]);
          failures++;
          break;
        }
      }
      checks++;
      free(codes);
      free(queries);
      free(ids);
      free(sampled);
      free(od);
      free(orow);
      free(oc);
      free(of);
    }
  }
  /* A kept sample gone stale: a thread keeps its sampled rows for its next call on the same rows of
   * the same table (address, range, width), so rows rewritten in place in between leave it
   * describing the old contents. Here random codes, then every row rewritten to distance 64 from
   * the (zero) queries: the kept sample's threshold (about 20) admits no row, so every query must
   * be searched again from B, and the answer is the first k rows at distance 64. (A sample copied
   * afresh would start at 64 and search nothing again.) */
  for (int32_t tier = DH_TIER_SCALAR; tier <= top; tier++) {
    const int32_t n = 300000, nq = 64, cb = 8, k = 1000;
    uint8_t *codes = malloc((size_t)n * cb + 64), *queries = calloc((size_t)nq * cb + 64, 1);
    int64_t *ids = malloc(sizeof(int64_t) * n);
    for (size_t i = 0; i < (size_t)n * cb; i++) codes[i] = (uint8_t)next64();
    for (int32_t r = 0; r < n; r++) ids[r] = r;
    int32_t *od = malloc(sizeof(int32_t) * (size_t)k * nq), *orow = malloc(sizeof(int32_t) * (size_t)k * nq);
    int32_t *oc = calloc((size_t)nq, sizeof(int32_t)), *of = calloc((size_t)nq, sizeof(int32_t));
    int32_t st = dh_hamming_topk(tier, codes, cb, 0, n, ids, NULL, queries, nq, k, 64, DH_IDS_ASCENDING, od, orow, oc, of);
    memset(codes, 0xff, (size_t)n * cb);
    const int64_t before = dh_topk_searched_again();
    st |= dh_hamming_topk(tier, codes, cb, 0, n, ids, NULL, queries, nq, k, 64, DH_IDS_ASCENDING, od, orow, oc, of);
    const int64_t again = dh_topk_searched_again() - before;
    int ok = st == DH_OK && again == nq;
    for (int32_t q = 0; ok && q < nq; q++) {
      ok = oc[q] == k;
      for (int32_t i = 0; ok && i < k; i++) ok = od[(size_t)q * k + i] == 64 && orow[(size_t)q * k + i] == i;
    }
    if (!ok) {
      printf("FAIL stale kept sample tier=%d: status %d, %lld of %d queries searched again\n", tier, st, (long long)again,
             nq);
      failures++;
    }
    checks++;
    free(codes);
    free(queries);
    free(ids);
    free(od);
    free(orow);
    free(oc);
    free(of);
  }
  printf("%d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
