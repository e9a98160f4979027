/*
 * AVX-512 tier: VPOPCNTQ counts eight 64-bit lanes in one instruction, and the threshold test is
 * a mask compare. 64-bit codes take 8 rows per vector; other widths go a row at a time through
 * masked loads (no tail handling needed, no read past the code).
 */
#include <immintrin.h>

#include "dh_internal.h"

#define DH_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vpopcntdq,popcnt")))
#define DH_INLINE static inline __attribute__((always_inline))

DH_TARGET_AVX512 DH_INLINE void scan8(const dh_ctx *c, const uint8_t *queries, dh_sel *sels, int64_t r0, int64_t r1,
                                     const int QB) {
  __m512i q[4], th[4]; /* QB <= 4 */
  for (int j = 0; j < QB; j++) {
    q[j] = _mm512_set1_epi64((long long)dh_load64(queries + 8 * (size_t)j));
    th[j] = _mm512_set1_epi64(sels[j].thr);
  }
  const uint8_t *p = c->codes + (size_t)r0 * 8;
  int64_t r = r0;
  for (; r + 8 <= r1; r += 8, p += 64) {
    const __m512i v = _mm512_loadu_si512((const void *)p);
    __m512i s[4];
    __mmask8 any = 0;
    for (int j = 0; j < QB; j++) {
      s[j] = _mm512_popcnt_epi64(_mm512_xor_si512(v, q[j]));
      any |= _mm512_cmple_epu64_mask(s[j], th[j]);
    }
    if (DH_UNLIKELY(any)) {
      for (int j = 0; j < QB; j++) {
        uint64_t d[8];
        _mm512_storeu_si512((void *)d, s[j]);
        for (int l = 0; l < 8; l++) {
          if ((int32_t)d[l] <= sels[j].thr) {
            dh_sel_push(c, &sels[j], (int32_t)d[l], r + l);
          }
        }
        th[j] = _mm512_set1_epi64(sels[j].thr);
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

/* Any width, one row at a time: 64-byte chunks, the last one masked to the code's bytes. */
DH_TARGET_AVX512 static void scan_any(const dh_ctx *c, const uint8_t *q, dh_sel *s, int64_t r0, int64_t r1) {
  const int32_t cb = c->code_bytes;
  const int32_t nchunk = (cb + 63) >> 6;
  const int32_t last = cb - 64 * (nchunk - 1);
  const __mmask64 lastmask = last >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << last) - 1);
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *p = c->codes + (size_t)r * (size_t)cb;
    __m512i acc = _mm512_setzero_si512();
    for (int32_t i = 0; i < nchunk; i++) {
      __mmask64 m = i == nchunk - 1 ? lastmask : ~(__mmask64)0;
      __m512i a = _mm512_maskz_loadu_epi8(m, p + 64 * (size_t)i);
      __m512i b = _mm512_maskz_loadu_epi8(m, q + 64 * (size_t)i);
      acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(a, b)));
    }
    int32_t d = (int32_t)_mm512_reduce_add_epi64(acc);
    if (DH_UNLIKELY(d <= s->thr)) {
      dh_sel_push(c, s, d, r);
    }
  }
}

DH_TARGET_AVX512 void dh_scan_avx512(const dh_ctx *c, const uint8_t *queries, int32_t nq, dh_sel *sels, int64_t r0,
                                     int64_t r1) {
  const int32_t cb = c->code_bytes;
  int32_t j = 0;
  if (cb == 8) {
    for (; j + 4 <= nq; j += 4) scan8(c, queries + (size_t)j * 8, sels + j, r0, r1, 4);
    for (; j < nq; j++) scan8(c, queries + (size_t)j * 8, sels + j, r0, r1, 1);
    return;
  }
  for (; j < nq; j++) {
    scan_any(c, queries + (size_t)j * cb, sels + j, r0, r1);
  }
}
