/*
 * AVX2 tier: nibble-lookup popcount (vpshufb on a 16-entry table, vpsadbw to sum bytes).
 *
 * XOR commutes with splitting bytes into nibbles, so each code vector is split once (and, shift)
 * and reused by a group of queries that are pre-split: per query and vector, the cost is two
 * XORs, two lookups, an add and a vpsadbw. The threshold test of a whole group is one OR-ed mask
 * and one branch; only a set mask leaves the vector code.
 */
#include <immintrin.h>

#include "dh_internal.h"

#define DH_TARGET_AVX2 __attribute__((target("avx2,popcnt")))
#define DH_INLINE static inline __attribute__((always_inline))

#ifndef SCAN8_QB
#define SCAN8_QB 4
#endif

#define LUT_BYTES 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4
static const uint64_t NIBBLES = 0x0f0f0f0f0f0f0f0fULL;

DH_TARGET_AVX2 DH_INLINE __m256i popc_bytes(__m256i lut, __m256i cl, __m256i ch, __m256i ql, __m256i qh) {
  return _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_xor_si256(cl, ql)),
                         _mm256_shuffle_epi8(lut, _mm256_xor_si256(ch, qh)));
}

/*
 * The byte-sum trick: with LUT_LO[n] = popcount(n) and LUT_HI[n] = 128 - popcount(n), vpsadbw of
 * the two lookups gives sum |lo - hi| = sum (128 - popcount) over 8 bytes, i.e. 1024 - d for each
 * 64-bit lane: the add of the two halves is folded into the sum of absolute differences.
 */
#define LUT_HI_BYTES 128, 127, 127, 126, 127, 126, 126, 125, 127, 126, 126, 125, 126, 125, 125, 124

/* 64-bit codes: one vector = 4 rows, each row's 1024 - d in its own qword. */
DH_TARGET_AVX2 DH_INLINE void scan8(const dh_ctx *c, const uint8_t *queries, dh_sel *sels, int64_t r0, int64_t r1,
                                   const int QB) {
  const __m256i lut_lo = _mm256_setr_epi8(LUT_BYTES, LUT_BYTES);
  const __m256i lut_hi = _mm256_setr_epi8(LUT_HI_BYTES, LUT_HI_BYTES);
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  __m256i ql[8], qh[8], th[8]; /* QB <= 8 */
  for (int j = 0; j < QB; j++) {
    uint64_t q = dh_load64(queries + 8 * (size_t)j);
    ql[j] = _mm256_set1_epi64x((long long)(q & NIBBLES));
    qh[j] = _mm256_set1_epi64x((long long)((q >> 4) & NIBBLES));
    /* d <= thr  <=>  1024 - d > 1023 - thr; the high dwords are 0 on both sides, never greater */
    th[j] = _mm256_set1_epi64x(1023 - sels[j].thr);
  }
  const uint8_t *p = c->codes + (size_t)r0 * 8;
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4, p += 32) {
    const __m256i v = _mm256_loadu_si256((const __m256i *)p);
    const __m256i cl = _mm256_and_si256(v, m4);
    const __m256i ch = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    __m256i s[8];
    __m256i any = _mm256_setzero_si256();
    for (int j = 0; j < QB; j++) {
      s[j] = _mm256_sad_epu8(_mm256_shuffle_epi8(lut_lo, _mm256_xor_si256(cl, ql[j])),
                             _mm256_shuffle_epi8(lut_hi, _mm256_xor_si256(ch, qh[j])));
      any = _mm256_or_si256(any, _mm256_cmpgt_epi32(s[j], th[j]));
    }
    if (DH_UNLIKELY(!_mm256_testz_si256(any, any))) {
      for (int j = 0; j < QB; j++) {
        uint64_t d[4];
        _mm256_storeu_si256((__m256i *)d, s[j]);
        for (int l = 0; l < 4; l++) {
          const int32_t dist = 1024 - (int32_t)d[l];
          if (dist <= sels[j].thr) {
            dh_sel_push(c, &sels[j], dist, r + l);
          }
        }
        th[j] = _mm256_set1_epi64x(1023 - sels[j].thr);
      }
    }
  }
  for (; r < r1; r++, p += 8) {
    uint64_t cw = dh_load64(p);
    for (int j = 0; j < QB; j++) {
      int32_t d = __builtin_popcountll(cw ^ dh_load64(queries + 8 * (size_t)j));
      if (d <= sels[j].thr) {
        dh_sel_push(c, &sels[j], d, r);
      }
    }
  }
}

/* 128-bit codes: one vector = 2 rows (two qword partial sums each); two vectors are folded into
 * 4 dword distances: d0 d2 | d0 d2 | d1 d3 | d1 d3. */
DH_TARGET_AVX2 DH_INLINE void scan16(const dh_ctx *c, const uint8_t *queries, dh_sel *sels, int64_t r0, int64_t r1,
                                    const int QB) {
  const __m256i lut = _mm256_setr_epi8(LUT_BYTES, LUT_BYTES);
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  const __m256i zero = _mm256_setzero_si256();
  __m256i ql[4], qh[4], th[4]; /* QB <= 4 */
  for (int j = 0; j < QB; j++) {
    __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(queries + 16 * (size_t)j)));
    ql[j] = _mm256_and_si256(q, m4);
    qh[j] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
    th[j] = _mm256_set1_epi32(sels[j].thr + 1);
  }
  const uint8_t *p = c->codes + (size_t)r0 * 16;
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4, p += 64) {
    const __m256i v0 = _mm256_loadu_si256((const __m256i *)p);
    const __m256i v1 = _mm256_loadu_si256((const __m256i *)(p + 32));
    const __m256i cl0 = _mm256_and_si256(v0, m4), ch0 = _mm256_and_si256(_mm256_srli_epi16(v0, 4), m4);
    const __m256i cl1 = _mm256_and_si256(v1, m4), ch1 = _mm256_and_si256(_mm256_srli_epi16(v1, 4), m4);
    __m256i s[4];
    __m256i any = zero;
    for (int j = 0; j < QB; j++) {
      __m256i a = _mm256_sad_epu8(popc_bytes(lut, cl0, ch0, ql[j], qh[j]), zero);
      __m256i b = _mm256_sad_epu8(popc_bytes(lut, cl1, ch1, ql[j], qh[j]), zero);
      __m256i t = _mm256_or_si256(a, _mm256_slli_epi64(b, 32));
      s[j] = _mm256_add_epi32(t, _mm256_shuffle_epi32(t, 0x4E));
      any = _mm256_or_si256(any, _mm256_cmpgt_epi32(th[j], s[j]));
    }
    if (DH_UNLIKELY(!_mm256_testz_si256(any, any))) {
      for (int j = 0; j < QB; j++) {
        uint32_t d[8];
        _mm256_storeu_si256((__m256i *)d, s[j]);
        const int32_t dd[4] = {(int32_t)d[0], (int32_t)d[4], (int32_t)d[1], (int32_t)d[5]};
        for (int l = 0; l < 4; l++) {
          if (dd[l] <= sels[j].thr) {
            dh_sel_push(c, &sels[j], dd[l], r + l);
          }
        }
        th[j] = _mm256_set1_epi32(sels[j].thr + 1);
      }
    }
  }
  for (; r < r1; r++, p += 16) {
    uint64_t c0 = dh_load64(p), c1 = dh_load64(p + 8);
    for (int j = 0; j < QB; j++) {
      const uint8_t *q = queries + 16 * (size_t)j;
      int32_t d = __builtin_popcountll(c0 ^ dh_load64(q)) + __builtin_popcountll(c1 ^ dh_load64(q + 8));
      if (d <= sels[j].thr) {
        dh_sel_push(c, &sels[j], d, r);
      }
    }
  }
}

/* 256-bit codes: one vector = 1 row (four qword partials); four rows are folded into four 16-bit
 * distances in every qword. */
DH_TARGET_AVX2 DH_INLINE void scan32(const dh_ctx *c, const uint8_t *queries, dh_sel *sels, int64_t r0, int64_t r1,
                                    const int QB) {
  const __m256i lut = _mm256_setr_epi8(LUT_BYTES, LUT_BYTES);
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  const __m256i zero = _mm256_setzero_si256();
  __m256i ql[4], qh[4], th[4]; /* QB <= 4 */
  for (int j = 0; j < QB; j++) {
    __m256i q = _mm256_loadu_si256((const __m256i *)(queries + 32 * (size_t)j));
    ql[j] = _mm256_and_si256(q, m4);
    qh[j] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
    th[j] = _mm256_set1_epi16((short)(sels[j].thr + 1));
  }
  const uint8_t *p = c->codes + (size_t)r0 * 32;
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4, p += 128) {
    __m256i cl[4], ch[4];
    for (int i = 0; i < 4; i++) {
      const __m256i v = _mm256_loadu_si256((const __m256i *)(p + 32 * i));
      cl[i] = _mm256_and_si256(v, m4);
      ch[i] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    }
    __m256i s[4];
    __m256i any = zero;
    for (int j = 0; j < QB; j++) {
      __m256i t = _mm256_sad_epu8(popc_bytes(lut, cl[0], ch[0], ql[j], qh[j]), zero);
      t = _mm256_add_epi64(t, _mm256_slli_epi64(_mm256_sad_epu8(popc_bytes(lut, cl[1], ch[1], ql[j], qh[j]), zero), 16));
      t = _mm256_add_epi64(t, _mm256_slli_epi64(_mm256_sad_epu8(popc_bytes(lut, cl[2], ch[2], ql[j], qh[j]), zero), 32));
      t = _mm256_add_epi64(t, _mm256_slli_epi64(_mm256_sad_epu8(popc_bytes(lut, cl[3], ch[3], ql[j], qh[j]), zero), 48));
      t = _mm256_add_epi16(t, _mm256_permute2x128_si256(t, t, 0x01));
      s[j] = _mm256_add_epi16(t, _mm256_shuffle_epi32(t, 0x4E));
      any = _mm256_or_si256(any, _mm256_cmpgt_epi16(th[j], s[j]));
    }
    if (DH_UNLIKELY(!_mm256_testz_si256(any, any))) {
      for (int j = 0; j < QB; j++) {
        uint16_t d[16];
        _mm256_storeu_si256((__m256i *)d, s[j]);
        for (int l = 0; l < 4; l++) {
          if ((int32_t)d[l] <= sels[j].thr) {
            dh_sel_push(c, &sels[j], (int32_t)d[l], r + l);
          }
        }
        th[j] = _mm256_set1_epi16((short)(sels[j].thr + 1));
      }
    }
  }
  for (; r < r1; r++, p += 32) {
    for (int j = 0; j < QB; j++) {
      const uint8_t *q = queries + 32 * (size_t)j;
      int32_t d = 0;
      for (int w = 0; w < 4; w++) {
        d += __builtin_popcountll(dh_load64(p + 8 * w) ^ dh_load64(q + 8 * w));
      }
      if (d <= sels[j].thr) {
        dh_sel_push(c, &sels[j], d, r);
      }
    }
  }
}

/* Wide codes (>= 64 bytes): 32-byte chunks through the lookup, byte counts accumulated (at most
 * 16 chunks x 8 < 256, no overflow), the remainder (< 32 bytes) with scalar POPCNT. */
DH_TARGET_AVX2 DH_INLINE void scan_wide(const dh_ctx *c, const uint8_t *queries, dh_sel *sels, int64_t r0,
                                       int64_t r1, const int QB) {
  const int32_t cb = c->code_bytes;
  const int32_t nchunk = cb >> 5;
  const int32_t rest = cb & 31, rest_full = rest >> 3, rest_tail = rest & 7;
  const uint64_t mask = rest_tail ? dh_tail_mask(rest_tail) : 0;
  const __m256i lut = _mm256_setr_epi8(LUT_BYTES, LUT_BYTES);
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  const __m256i zero = _mm256_setzero_si256();
  /* queries pre-split into nibbles: 16 chunks x 2 vectors per query at most (cb <= 512) */
  __m256i qn[2][2 * 16]; /* QB <= 2, cb <= 512 */
  for (int j = 0; j < QB; j++) {
    for (int32_t i = 0; i < nchunk; i++) {
      __m256i q = _mm256_loadu_si256((const __m256i *)(queries + (size_t)j * cb + 32 * (size_t)i));
      qn[j][2 * i] = _mm256_and_si256(q, m4);
      qn[j][2 * i + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
    }
  }
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *p = c->codes + (size_t)r * (size_t)cb;
    __m256i acc[2];
    for (int j = 0; j < QB; j++) {
      acc[j] = zero;
    }
    for (int32_t i = 0; i < nchunk; i++) {
      const __m256i v = _mm256_loadu_si256((const __m256i *)(p + 32 * (size_t)i));
      const __m256i cl = _mm256_and_si256(v, m4);
      const __m256i ch = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
      for (int j = 0; j < QB; j++) {
        acc[j] = _mm256_add_epi8(acc[j], popc_bytes(lut, cl, ch, qn[j][2 * i], qn[j][2 * i + 1]));
      }
    }
    const uint8_t *pr = p + 32 * (size_t)nchunk;
    for (int j = 0; j < QB; j++) {
      const uint8_t *qr = queries + (size_t)j * cb + 32 * (size_t)nchunk;
      __m256i s = _mm256_sad_epu8(acc[j], zero);
      __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
      int32_t d = (int32_t)(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1));
      for (int32_t w = 0; w < rest_full; w++) {
        d += __builtin_popcountll(dh_load64(pr + 8 * w) ^ dh_load64(qr + 8 * w));
      }
      if (rest_tail) {
        d += __builtin_popcountll((dh_load64(pr + 8 * rest_full) ^ dh_load64(qr + 8 * rest_full)) & mask);
      }
      if (DH_UNLIKELY(d <= sels[j].thr)) {
        dh_sel_push(c, &sels[j], d, r);
      }
    }
  }
}

DH_TARGET_AVX2 void dh_scan_avx2(const dh_ctx *c, const uint8_t *queries, int32_t nq, dh_sel *sels, int64_t r0,
                                 int64_t r1) {
  const int32_t cb = c->code_bytes;
  int32_t j = 0;
  switch (cb) {
    case 8:
      for (; j + SCAN8_QB <= nq; j += SCAN8_QB) scan8(c, queries + (size_t)j * 8, sels + j, r0, r1, SCAN8_QB);
      for (; j < nq; j++) scan8(c, queries + (size_t)j * 8, sels + j, r0, r1, 1);
      return;
    case 16:
      for (; j + 4 <= nq; j += 4) scan16(c, queries + (size_t)j * 16, sels + j, r0, r1, 4);
      for (; j < nq; j++) scan16(c, queries + (size_t)j * 16, sels + j, r0, r1, 1);
      return;
    case 32:
      for (; j + 2 <= nq; j += 2) scan32(c, queries + (size_t)j * 32, sels + j, r0, r1, 2);
      for (; j < nq; j++) scan32(c, queries + (size_t)j * 32, sels + j, r0, r1, 1);
      return;
    default:
      if (cb >= 64) {
        for (; j + 2 <= nq; j += 2) scan_wide(c, queries + (size_t)j * cb, sels + j, r0, r1, 2);
        for (; j < nq; j++) scan_wide(c, queries + (size_t)j * cb, sels + j, r0, r1, 1);
      } else {
        dh_scan_scalar(c, queries, nq, sels, r0, r1);
      }
      return;
  }
}
