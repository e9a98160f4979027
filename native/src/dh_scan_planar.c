/*
 * AVX2 "planar" kernel for blocks of queries (the path a batch of queries takes).
 *
 * Each tile of rows is transposed once into nibble planes: plane 2p (2p+1) holds the low (high)
 * nibble of byte p of 32 consecutive rows, one row per byte lane. Each query is turned once into
 * 2*code_bytes 16-entry tables, table 2p+h mapping a code nibble n to popcount(n ^ query nibble).
 * A row's distance is then the sum over planes of table[plane] -- one vpshufb and one saturating
 * byte add per 32 rows and plane, with no XOR, no horizontal sum, and one compare per 32 rows.
 * Per pair that is code_bytes/8 vector ops against about 7/4 for the XOR-lookup-vpsadbw kernel
 * at 64 bits. The transposition costs a few ops per row and is paid once for the whole query block.
 *
 * Candidates are appended in row order (a block's passing lanes are mapped back to rows first), so
 * the selection may rely on it (dh_sel's counted mode).
 *
 * Distances saturate at 255 in the byte lanes: while the threshold is below 255 (always, once
 * the first compaction has run) the test "saturated sum <= thr" is exact; above it every row of
 * the block is checked exactly.
 */
#include <immintrin.h>
#include <stdlib.h>

#include "deephash.h"
#include "dh_internal.h"

#define DH_TARGET_AVX2 __attribute__((target("avx2,popcnt")))

/* 8 blocks of 32 rows per pass over the planes: 8 accumulators in registers. */
#define GROUP_ROWS 256

static int32_t exact_distance(const uint8_t *a, const uint8_t *b, int32_t cb) {
  int32_t d = 0, w = 0;
  for (; w + 8 <= cb; w += 8) {
    d += __builtin_popcountll(dh_load64(a + w) ^ dh_load64(b + w));
  }
  if (w < cb) {
    d += __builtin_popcountll((dh_load64(a + w) ^ dh_load64(b + w)) & dh_tail_mask(cb - w));
  }
  return d;
}

/* Rows [r0, r0+n) into planes laid out [group of 256 rows][plane][block of 32 rows][lane]; lane i
 * of a block holds row map[i] of the block. Padding rows are zero (and never reported). */
DH_TARGET_AVX2 static void transpose_scalar(const uint8_t *codes, int32_t cb, int64_t r0, int32_t n, uint8_t *planes,
                                            int32_t padded) {
  for (int32_t g0 = 0; g0 < padded; g0 += GROUP_ROWS) {
    uint8_t *gp = planes + (size_t)g0 * 2 * (size_t)cb;
    const int32_t m = n - g0 < GROUP_ROWS ? n - g0 : GROUP_ROWS;
    if (m < GROUP_ROWS) {
      memset(gp, 0, (size_t)GROUP_ROWS * 2 * (size_t)cb);
    }
    for (int32_t i = 0; i < m; i++) {
      const uint8_t *row = codes + (size_t)(r0 + g0 + i) * (size_t)cb;
      uint8_t *dst = gp + i;
      for (int32_t p = 0; p < cb; p++) {
        const uint8_t b = row[p];
        dst[(size_t)(2 * p) * GROUP_ROWS] = b & 15;
        dst[(size_t)(2 * p + 1) * GROUP_ROWS] = b >> 4;
      }
    }
  }
}

/*
 * 64-bit codes: 32 rows (8 vectors) to 16 nibble planes in about 60 vector ops. vpshufb pairs the
 * bytes of the two rows of each 128-bit lane into 16-bit words (word p = byte p of both rows);
 * an 8x8 transpose of words (unpack 16, 32, 64) then gathers word p of all vectors. The lane
 * order this produces is fixed and found once by transposing row numbers (see map8).
 */
DH_TARGET_AVX2 static inline void transpose8_block(const uint8_t *src, uint8_t *dst) {
  const __m256i pair = _mm256_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15,
                                        0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  __m256i v[8], a[8], b[8], c[8];
  for (int i = 0; i < 8; i++) {
    v[i] = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(src + 32 * i)), pair);
  }
  for (int i = 0; i < 8; i += 2) {
    a[i] = _mm256_unpacklo_epi16(v[i], v[i + 1]);
    a[i + 1] = _mm256_unpackhi_epi16(v[i], v[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    b[i] = _mm256_unpacklo_epi32(a[i], a[i + 2]);
    b[i + 1] = _mm256_unpackhi_epi32(a[i], a[i + 2]);
    b[i + 2] = _mm256_unpacklo_epi32(a[i + 1], a[i + 3]);
    b[i + 3] = _mm256_unpackhi_epi32(a[i + 1], a[i + 3]);
  }
  for (int i = 0; i < 4; i++) {
    c[2 * i] = _mm256_unpacklo_epi64(b[i], b[i + 4]);
    c[2 * i + 1] = _mm256_unpackhi_epi64(b[i], b[i + 4]);
  }
  for (int p = 0; p < 8; p++) {
    _mm256_store_si256((__m256i *)(dst + (size_t)(2 * p) * GROUP_ROWS), _mm256_and_si256(c[p], m4));
    _mm256_store_si256((__m256i *)(dst + (size_t)(2 * p + 1) * GROUP_ROWS),
                       _mm256_and_si256(_mm256_srli_epi16(c[p], 4), m4));
  }
}

DH_TARGET_AVX2 static void transpose8(const uint8_t *codes, int64_t r0, int32_t n, uint8_t *planes, int32_t padded) {
  _Alignas(32) uint8_t tmp[256];
  for (int32_t b0 = 0; b0 < padded; b0 += 32) {
    uint8_t *dst = planes + (size_t)(b0 / GROUP_ROWS) * GROUP_ROWS * 16 + (size_t)(b0 % GROUP_ROWS);
    const uint8_t *src = codes + (size_t)(r0 + b0) * 8;
    if (b0 + 32 > n) {
      /* the table ends inside this block: transpose a zero-padded copy */
      memset(tmp, 0, sizeof(tmp));
      if (n > b0) {
        memcpy(tmp, src, (size_t)(n - b0) * 8);
      }
      src = tmp;
    }
    transpose8_block(src, dst);
  }
}

/* Which row of a block each lane of transpose8_block holds: transpose the row numbers. */
DH_TARGET_AVX2 static void map8(uint8_t map[32]) {
  _Alignas(32) uint8_t rows[256];
  _Alignas(32) uint8_t out[16 * GROUP_ROWS];
  for (int r = 0; r < 32; r++) {
    memset(rows + 8 * r, r, 8);
  }
  transpose8_block(rows, out);
  for (int i = 0; i < 32; i++) {
    map[i] = (uint8_t)(out[i] | (out[GROUP_ROWS + i] << 4));
  }
}

/*
 * The saturating sums of one query's tables (lj) over a group's np planes (gp): 8 blocks of 32 rows
 * in acc. Always inlined, so that with np a constant (16 for 64-bit codes) the plane loop unrolls.
 * Two planes per iteration: independent shuffles in flight, no register copies.
 */
DH_TARGET_AVX2 static inline __attribute__((always_inline)) void group_sums(const __m256i *gp, const uint8_t *lj,
                                                                            const int32_t np, __m256i acc[8]) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (int32_t p = 0; p < np; p += 2) {
    const __m256i l = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)(lj + 16 * (size_t)p)));
    const __m256i h = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)(lj + 16 * (size_t)p + 16)));
    const __m256i *pl = gp + 8 * (size_t)p;
#define DH_PLANE_STEP(a, b)                                                                                  \
  a = _mm256_adds_epu8(a, _mm256_adds_epu8(_mm256_shuffle_epi8(l, _mm256_load_si256(pl + (b))),          \
                                           _mm256_shuffle_epi8(h, _mm256_load_si256(pl + 8 + (b)))))
    DH_PLANE_STEP(a0, 0);
    DH_PLANE_STEP(a1, 1);
    DH_PLANE_STEP(a2, 2);
    DH_PLANE_STEP(a3, 3);
    DH_PLANE_STEP(a4, 4);
    DH_PLANE_STEP(a5, 5);
    DH_PLANE_STEP(a6, 6);
    DH_PLANE_STEP(a7, 7);
#undef DH_PLANE_STEP
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
  acc[4] = a4;
  acc[5] = a5;
  acc[6] = a6;
  acc[7] = a7;
}

DH_TARGET_AVX2 int32_t dh_scan_planar(const dh_ctx *c, const uint8_t *queries, int32_t nq, dh_sel *sels, int64_t r0,
                                      int64_t r1) {
  const int32_t cb = c->code_bytes;
  const int32_t np = 2 * cb;
  /* planes of one tile: ~16 KiB so they stay in L1 while every query passes over them */
  int32_t tile = (16384 / np) / GROUP_ROWS * GROUP_ROWS;
  if (tile < GROUP_ROWS) {
    tile = GROUP_ROWS;
  }
  if (tile > 4096) {
    tile = 4096;
  }
  uint8_t *planes = aligned_alloc(64, (size_t)tile * (size_t)np);
  uint8_t *luts = aligned_alloc(64, ((size_t)nq * (size_t)np * 16 + 63) & ~(size_t)63);
  if (planes == NULL || luts == NULL) {
    free(planes);
    free(luts);
    return DH_ENOMEM;
  }
  uint8_t map[32];
  if (cb == 8) {
    map8(map);
  } else {
    for (int i = 0; i < 32; i++) {
      map[i] = (uint8_t)i;
    }
  }
  for (int32_t j = 0; j < nq; j++) {
    const uint8_t *q = queries + (size_t)j * (size_t)cb;
    for (int32_t p = 0; p < cb; p++) {
      uint8_t *lo = luts + ((size_t)j * (size_t)np + 2 * (size_t)p) * 16;
      for (int32_t v = 0; v < 16; v++) {
        lo[v] = (uint8_t)__builtin_popcount((unsigned)(v ^ (q[p] & 15)));
        lo[16 + v] = (uint8_t)__builtin_popcount((unsigned)(v ^ (q[p] >> 4)));
      }
    }
  }
  for (int64_t t0 = r0; t0 < r1; t0 += tile) {
    const int32_t n = (int32_t)(r1 - t0 < tile ? r1 - t0 : tile);
    const int32_t padded = (n + GROUP_ROWS - 1) / GROUP_ROWS * GROUP_ROWS;
    if (cb == 8) {
      transpose8(c->codes, t0, n, planes, padded);
    } else {
      transpose_scalar(c->codes, cb, t0, n, planes, padded);
    }
    for (int32_t j = 0; j < nq; j++) {
      dh_sel *s = &sels[j];
      const uint8_t *lj = luts + (size_t)j * (size_t)np * 16;
      const uint8_t *qj = queries + (size_t)j * (size_t)cb;
      for (int32_t g0 = 0; g0 < n; g0 += GROUP_ROWS) {
        const __m256i *gp = (const __m256i *)(planes + (size_t)g0 * (size_t)np);
        __m256i acc[8];
        if (np == 16) {
          group_sums(gp, lj, 16, acc); /* 64-bit codes: the plane loop unrolled */
        } else {
          group_sums(gp, lj, np, acc);
        }
        const int32_t valid = n - g0 < GROUP_ROWS ? n - g0 : GROUP_ROWS;
        if (s->thr >= 255) {
          /* saturated sums cannot decide: check every row of the group exactly */
          for (int32_t i = 0; i < valid; i++) {
            const int64_t row = t0 + g0 + i;
            dh_sel_push(c, s, exact_distance(c->codes + (size_t)row * (size_t)cb, qj, cb), row);
          }
          continue;
        }
        /* some lane is flagged iff the smallest sum is < thr + 1 (the saturating difference is non-zero) */
        const __m256i least = _mm256_min_epu8(
            _mm256_min_epu8(_mm256_min_epu8(acc[0], acc[1]), _mm256_min_epu8(acc[2], acc[3])),
            _mm256_min_epu8(_mm256_min_epu8(acc[4], acc[5]), _mm256_min_epu8(acc[6], acc[7])));
        const __m256i any = _mm256_subs_epu8(_mm256_set1_epi8((char)(s->thr + 1)), least);
        if (DH_LIKELY(_mm256_testz_si256(any, any))) {
          continue;
        }
        /* the lanes within the threshold of each block of 32 rows, then only the blocks with some
         * (usually one): a loop over all 8 with a branch each cost a third of a k = 1000 search */
        const __m256i tb = _mm256_set1_epi8((char)(s->thr + 1));
        uint32_t lanes[8], blocks = 0;
        for (int32_t b = 0; b < 8; b++) {
          lanes[b] = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_subs_epu8(tb, acc[b]), _mm256_setzero_si256()));
          blocks |= (uint32_t)(lanes[b] != 0) << b;
        }
        while (blocks != 0) {
          const int32_t b = __builtin_ctz(blocks);
          blocks &= blocks - 1;
          /* lanes to rows, so candidates are appended in row order */
          uint32_t rows = 0;
          for (uint32_t mask = lanes[b]; mask != 0; mask &= mask - 1) {
            rows |= (uint32_t)1 << map[__builtin_ctz(mask)];
          }
          while (rows != 0) {
            const int32_t i = 32 * b + __builtin_ctz(rows);
            rows &= rows - 1;
            if (i >= valid) {
              break; /* padding rows, and only padding rows, follow */
            }
            const int64_t row = t0 + g0 + i;
            /* tested again: a push may have lowered the threshold since the lanes were found */
            const int32_t d = exact_distance(c->codes + (size_t)row * (size_t)cb, qj, cb);
            dh_sel_put(c, s, d, row, d <= s->thr);
          }
        }
      }
    }
  }
  free(planes);
  free(luts);
  return DH_OK;
}
