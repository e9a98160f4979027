/*
 * AVX-512 tier: VPOPCNTQ counts eight 64-bit lanes in one instruction.
 *
 * Every width is scanned in a word-planar layout: lane i of plane w holds word w of row i of a
 * group of 8 rows, so a row's distance is summed across words with vertical adds (XOR, VPOPCNTQ,
 * add per word) and never needs a horizontal reduction. 64-bit codes are planar as stored; other
 * widths are transposed once per tile into c->planes, which every query of the call then reuses.
 * Queries are register-blocked: one plane vector is compared with up to 8 queries.
 *
 * The threshold test of a group costs one add per query and a three-way AND per two (see
 * any_pass), its outcome stored as a byte per group (its lanes where some query passes); only the
 * flagged rows are then compared again, each with all the block's queries in one vector, and
 * pushed (push_rows).
 */
#include <immintrin.h>
#include <stdint.h>

#include "dh_internal.h"

#define DH_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vpopcntdq,popcnt")))
#define DH_INLINE static inline __attribute__((always_inline))

/* Queries compared with one loaded vector of codes. */
#define QMAX 8
/* Groups of 8 rows whose threshold flags are gathered before candidates are pushed. */
#define CHUNK_GROUPS 256

DH_TARGET_AVX512 DH_INLINE __m512i bias_of(int32_t thr) { return _mm512_set1_epi64(INT64_MAX - thr); }

/* Distances of QB queries (qw: QB x words query words) to one group of 8 rows in planar layout
 * (plane w at gp + 8 w); only the valid rows are loaded when masked is set. */
DH_TARGET_AVX512 DH_INLINE void group_dist(const uint64_t *gp, int32_t words, const uint64_t *qw, __m512i *d,
                                          __mmask8 valid, int masked, const int QB) {
  __m512i p = masked ? _mm512_maskz_loadu_epi64(valid, (const void *)gp) : _mm512_loadu_si512((const void *)gp);
  for (int j = 0; j < QB; j++) {
    d[j] = _mm512_popcnt_epi64(_mm512_xor_si512(p, _mm512_set1_epi64((long long)qw[j * words])));
  }
  for (int32_t w = 1; w < words; w++) {
    p = _mm512_loadu_si512((const void *)(gp + 8 * w));
    for (int j = 0; j < QB; j++) {
      d[j] = _mm512_add_epi64(d[j],
                              _mm512_popcnt_epi64(_mm512_xor_si512(p, _mm512_set1_epi64((long long)qw[j * words + w]))));
    }
  }
}

/*
 * Lanes where some query passes: d <= thr  <=>  d + (2^63 - 1 - thr) has bit 63 clear, so the AND
 * of those sums over the queries has bit 63 set exactly where every query fails. Vector adds and
 * three-way ANDs keep the test off the mask registers (chains of mask compares measured 2x
 * slower on Zen 4).
 */
DH_TARGET_AVX512 DH_INLINE __mmask8 any_pass(const __m512i *d, const __m512i *bias, const int QB) {
  __m512i all = _mm512_add_epi64(d[0], bias[0]);
  int j = 1;
  for (; j + 1 < QB; j += 2) {
    all = _mm512_ternarylogic_epi64(all, _mm512_add_epi64(d[j], bias[j]), _mm512_add_epi64(d[j + 1], bias[j + 1]),
                                    0x80);
  }
  if (j < QB) {
    all = _mm512_and_si512(all, _mm512_add_epi64(d[j], bias[j]));
  }
  return (__mmask8)~_mm512_movepi64_mask(all);
}

/* 64 bits, query j's lanes within its threshold in byte j: unsigned compares into mask registers
 * merged by a tree of mask unpacks. */
DH_TARGET_AVX512 DH_INLINE uint64_t hit_masks(const __m512i *d, const __m512i *thr, __mmask8 valid, const int QB) {
  if (QB == 8) {
    __mmask16 m[8];
    for (int j = 0; j < 8; j++) {
      m[j] = _mm512_mask_cmple_epu64_mask(valid, d[j], thr[j]);
    }
    const __mmask32 lo = _mm512_kunpackw(_mm512_kunpackb(m[3], m[2]), _mm512_kunpackb(m[1], m[0]));
    const __mmask32 hi = _mm512_kunpackw(_mm512_kunpackb(m[7], m[6]), _mm512_kunpackb(m[5], m[4]));
    return (uint64_t)_mm512_kunpackd(hi, lo);
  }
  uint64_t h = 0;
  for (int j = 0; j < QB; j++) {
    h |= (uint64_t)_mm512_mask_cmple_epu64_mask(valid, d[j], thr[j]) << (8 * j);
  }
  return h;
}

/* Appends the lanes of a group (planes at gp) that hit, query by query: one compress and one store
 * each. The distances are recomputed for that query alone (loading only its hit lanes: the last
 * group of a table may end early), and tested again against its current threshold (an earlier push
 * of the chunk may have lowered it). */
DH_TARGET_AVX512 DH_INLINE void push_hits(const dh_ctx *c, dh_sel *sels, __m512i *bias, const uint64_t *gp,
                                         int32_t words, const uint64_t *qw, uint64_t hits, int64_t row0) {
  const __m512i rowv = _mm512_add_epi64(_mm512_set1_epi64(row0), _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0));
  while (hits != 0) {
    const int j = __builtin_ctzll(hits) >> 3;
    const __mmask8 lanes = (__mmask8)(hits >> (8 * j));
    hits &= ~((uint64_t)0xFF << (8 * j));
    __m512i dj = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_maskz_loadu_epi64(lanes, (const void *)gp),
                                                      _mm512_set1_epi64((long long)qw[j * words])));
    for (int32_t w = 1; w < words; w++) {
      const __m512i p = _mm512_maskz_loadu_epi64(lanes, (const void *)(gp + 8 * w));
      dj = _mm512_add_epi64(dj, _mm512_popcnt_epi64(_mm512_xor_si512(p, _mm512_set1_epi64((long long)qw[j * words + w]))));
    }
    dh_sel *s = &sels[j];
    const int32_t thr = s->thr;
    const __mmask8 m = _mm512_mask_cmple_epu64_mask(lanes, dj, _mm512_set1_epi64(thr));
    const int32_t from = s->n;
    const __m512i entries = _mm512_maskz_compress_epi64(m, _mm512_or_si512(_mm512_slli_epi64(dj, 32), rowv));
    _mm512_storeu_si512((void *)(s->buf + from), entries);
    s->n = from + __builtin_popcount((unsigned)m);
    if (c->counted) {
      dh_sel_counted(c, s, s->n - from);
    } else {
      dh_sel_appended(c, s, from);
    }
    if (s->thr != thr) {
      bias[j] = bias_of(s->thr);
    }
  }
}

/*
 * Pushes the flagged rows of one group (lanes in `rows`, where some query passed the thresholds
 * the chunk started with). Each row is compared with the block's queries in one vector (query j
 * in lane j of the columns qcol, one per word) against the queries' current thresholds (thrv),
 * and each passing query gets one entry. A flagged group usually holds one row passing for one
 * query, so the first query of a row is pushed whether or not it passes (its entry then lies past
 * the list's end, uncounted): only groups of two or more rows, and rows passing for two or more
 * queries, take a branch that can mispredict. (Testing the whole group per query, then pushing
 * per query with one compress, mispredicted twice on most flagged groups: k = 1000 took 10% longer.)
 */
DH_TARGET_AVX512 DH_INLINE void push_rows(const dh_ctx *c, dh_sel *sels, __m512i *bias, __m512i *thrv,
                                         const uint64_t *gp, int32_t words, const __m512i *qcol, uint32_t rows,
                                         int32_t row0) {
  do {
    const int r = __builtin_ctz(rows);
    __m512i dv = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_set1_epi64((long long)gp[r]), qcol[0]));
    for (int32_t w = 1; w < words; w++) {
      dv = _mm512_add_epi64(dv, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_set1_epi64((long long)gp[8 * w + r]), qcol[w])));
    }
    uint32_t m = _mm512_cmple_epi64_mask(dv, *thrv);
    do {
      const int j = m != 0 ? __builtin_ctz(m) : 0;
      const int32_t d = (int32_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(_mm512_permutexvar_epi64(_mm512_set1_epi64(j), dv)));
      dh_sel *s = &sels[j];
      const int32_t thr = s->thr;
      dh_sel_put(c, s, d, row0 + r, m != 0);
      if (__builtin_expect(s->thr != thr, 0)) {
        bias[j] = bias_of(s->thr);
        *thrv = _mm512_mask_set1_epi64(*thrv, (__mmask8)(1u << j), s->thr);
      }
      m &= m - 1;
    } while (m != 0);
    rows &= rows - 1;
  } while (rows != 0);
}

/*
 * QB queries over n rows starting at row r0, in planar layout: group g's planes at
 * base + g * gstride (words x 8 words). Each chunk of groups is scanned twice: first the threshold
 * test alone, its outcome stored as one byte per group (no branch), then only the flagged rows
 * are compared again and pushed. A mispredicted branch per candidate group costs more than
 * comparing its rows twice, and candidates are frequent when k is large.
 */
DH_TARGET_AVX512 DH_INLINE void scan_block(const dh_ctx *c, const uint64_t *base, size_t gstride, int32_t words,
                                          int64_t r0, int32_t n, int tail_masked, const uint64_t *qw, dh_sel *sels,
                                          const int QB) {
  __m512i bias[QMAX];
  for (int j = 0; j < QB; j++) {
    bias[j] = bias_of(sels[j].thr);
  }
  _Alignas(64) uint8_t flags[CHUNK_GROUPS];
  const int32_t groups = (n + 7) >> 3;
  /* for push_rows: word w of the queries (query j in lane j), their thresholds (-1 in the lanes of
   * no query: no distance passes it) */
  __m512i qcol[512 / 8], thrv = _mm512_set1_epi64(-1);
  for (int32_t w = 0; w < words; w++) {
    qcol[w] = _mm512_setzero_si512();
    for (int j = 0; j < QB; j++) {
      qcol[w] = _mm512_mask_set1_epi64(qcol[w], (__mmask8)(1u << j), (long long)qw[j * words + w]);
    }
  }
  for (int j = 0; j < QB; j++) {
    thrv = _mm512_mask_set1_epi64(thrv, (__mmask8)(1u << j), sels[j].thr);
  }
  for (int32_t g0 = 0; g0 < groups; g0 += CHUNK_GROUPS) {
    const int32_t g1 = groups - g0 > CHUNK_GROUPS ? g0 + CHUNK_GROUPS : groups;
    const int32_t full = g1 < groups || (n & 7) == 0 ? g1 : g1 - 1;
    int32_t g = g0;
    for (; g < full; g++) {
      __m512i d[QMAX];
      group_dist(base + (size_t)g * gstride, words, qw, d, 0xFF, 0, QB);
      flags[g - g0] = any_pass(d, bias, QB);
    }
    const __mmask8 last_valid = (__mmask8)((1u << (n & 7)) - 1);
    if (g < g1) { /* the last, partial group */
      __m512i d[QMAX];
      group_dist(base + (size_t)g * gstride, words, qw, d, last_valid, tail_masked, QB);
      flags[g - g0] = (uint8_t)(any_pass(d, bias, QB) & last_valid);
    }
    const int32_t cn = g1 - g0;
    for (int32_t i = cn; i < ((cn + 63) & ~63); i++) {
      flags[i] = 0;
    }
    /* the flagged groups: row by row, or per query where many rows passed (a threshold far above
     * the k-th distance, early in a scan) */
    for (int32_t i = 0; i < cn; i += 64) {
      uint64_t hits = _mm512_test_epi8_mask(_mm512_load_si512((const void *)(flags + i)), _mm512_set1_epi8((char)0xFF));
      while (hits != 0) {
        const int32_t gg = g0 + i + __builtin_ctzll(hits);
        hits &= hits - 1;
        const uint64_t *gp = base + (size_t)gg * gstride;
        const uint32_t rows = flags[gg - g0];
        if (__builtin_popcount(rows) <= 2) {
          push_rows(c, sels, bias, &thrv, gp, words, qcol, rows, (int32_t)(r0 + 8 * (int64_t)gg));
          continue;
        }
        const __mmask8 valid = gg == groups - 1 && (n & 7) ? last_valid : (__mmask8)0xFF;
        __m512i d[QMAX], thr[QMAX];
        for (int j = 0; j < QB; j++) {
          thr[j] = _mm512_set1_epi64(sels[j].thr);
        }
        group_dist(gp, words, qw, d, valid, tail_masked && valid != 0xFF, QB);
        push_hits(c, sels, bias, gp, words, qw, hit_masks(d, thr, valid, QB), r0 + 8 * (int64_t)gg);
        for (int j = 0; j < QB; j++) {
          thrv = _mm512_mask_set1_epi64(thrv, (__mmask8)(1u << j), sels[j].thr);
        }
      }
    }
  }
}

/* 64-bit codes: the stored rows are already planar (one word, a group every 64 bytes). */
DH_TARGET_AVX512 static void scan8_any(const dh_ctx *c, const uint8_t *queries, dh_sel *sels, int64_t r0, int64_t r1,
                                       int32_t qb) {
  uint64_t qw[QMAX];
  for (int32_t j = 0; j < qb; j++) {
    qw[j] = dh_load64(queries + 8 * (size_t)j);
  }
  const uint64_t *base = (const uint64_t *)(const void *)(c->codes + (size_t)r0 * 8);
  const int32_t n = (int32_t)(r1 - r0);
  switch (qb) {
    case 8: scan_block(c, base, 8, 1, r0, n, 1, qw, sels, 8); break;
    case 4: scan_block(c, base, 8, 1, r0, n, 1, qw, sels, 4); break;
    case 2: scan_block(c, base, 8, 1, r0, n, 1, qw, sels, 2); break;
    default: scan_block(c, base, 8, 1, r0, n, 1, qw, sels, 1); break;
  }
}

/* Rows [r0, r0+n) of any width into planes laid out [group of 8 rows][word][lane]; the last word
 * is masked to the code's bytes (codes have 8 readable bytes of padding) and missing rows of the
 * last group are zero. */
static void transpose(const uint8_t *codes, int32_t cb, int32_t words, int64_t r0, int32_t n, uint64_t *planes) {
  const uint64_t tail = dh_tail_mask(cb - 8 * (words - 1));
  for (int32_t i = 0; i < n; i++) {
    const uint8_t *row = codes + (size_t)(r0 + i) * (size_t)cb;
    uint64_t *dst = planes + (size_t)(i >> 3) * (size_t)words * 8 + (i & 7);
    for (int32_t w = 0; w < words - 1; w++) {
      dst[8 * w] = dh_load64(row + 8 * w);
    }
    dst[8 * (words - 1)] = dh_load64(row + 8 * (words - 1)) & tail;
  }
  for (int32_t i = n; i & 7; i++) {
    uint64_t *dst = planes + (size_t)(i >> 3) * (size_t)words * 8 + (i & 7);
    for (int32_t w = 0; w < words; w++) {
      dst[8 * w] = 0;
    }
  }
}

/* QB queries over the planes of a tile; specialised on the common word counts so the word loop
 * unrolls. */
DH_TARGET_AVX512 static void scan_planes_any(const dh_ctx *c, const uint64_t *planes, int32_t words, int64_t r0,
                                            int32_t n, const uint64_t *qw, dh_sel *sels, int32_t qb) {
#define DH_PLANES_QB(W)                                                                           \
  switch (qb) {                                                                                   \
    case 8: scan_block(c, planes, (size_t)8 * (W), W, r0, n, 0, qw, sels, 8); break;              \
    case 4: scan_block(c, planes, (size_t)8 * (W), W, r0, n, 0, qw, sels, 4); break;              \
    case 2: scan_block(c, planes, (size_t)8 * (W), W, r0, n, 0, qw, sels, 2); break;              \
    default: scan_block(c, planes, (size_t)8 * (W), W, r0, n, 0, qw, sels, 1); break;             \
  }
  switch (words) {
    case 1: DH_PLANES_QB(1); break;
    case 2: DH_PLANES_QB(2); break;
    case 3: DH_PLANES_QB(3); break;
    case 4: DH_PLANES_QB(4); break;
    default: DH_PLANES_QB(words); break;
  }
#undef DH_PLANES_QB
}

DH_TARGET_AVX512 void dh_scan_avx512(const dh_ctx *c, const uint8_t *queries, int32_t nq, dh_sel *sels, int64_t r0,
                                     int64_t r1) {
  const int32_t cb = c->code_bytes;
  int32_t j = 0;
  if (cb == 8) {
    while (j < nq) {
      const int32_t qb = nq - j >= 8 ? 8 : nq - j >= 4 ? 4 : nq - j >= 2 ? 2 : 1;
      scan8_any(c, queries + (size_t)j * 8, sels + j, r0, r1, qb);
      j += qb;
    }
    return;
  }
  const int32_t words = (cb + 7) >> 3;
  const int32_t n = (int32_t)(r1 - r0);
  transpose(c->codes, cb, words, r0, n, c->planes);
  const uint64_t tail = dh_tail_mask(cb - 8 * (words - 1));
  uint64_t qw[QMAX * 512 / 8]; /* QMAX queries of at most 512 bytes */
  while (j < nq) {
    const int32_t qb = nq - j >= 8 ? 8 : nq - j >= 4 ? 4 : nq - j >= 2 ? 2 : 1;
    for (int32_t i = 0; i < qb; i++) {
      const uint8_t *qp = queries + (size_t)(j + i) * (size_t)cb;
      for (int32_t w = 0; w < words; w++) {
        qw[i * words + w] = dh_load64(qp + 8 * w) & (w == words - 1 ? tail : ~(uint64_t)0);
      }
    }
    scan_planes_any(c, c->planes, words, r0, n, qw, sels + j, qb);
    j += qb;
  }
}
