/*
 * AVX-512 tier: the finish of a selection whose buffer is in row order (see finish_in_row_order in
 * dh_select.c). The scalar finish scatters each entry to its place; most entries share two or
 * three distances, so consecutive entries update the same position counter and each waits on the
 * last one's store (about 4 ns an entry at k = 1000). Here each distance's entries are gathered
 * instead, one distance at a time in ascending order: one pass over the buffer per distance
 * present, 16 entries per step (a compare, a compress of their rows, a store), the buffer staying
 * in L1 between passes. A stable gather in row order, so ties stay ordered by row (the id).
 */
#include <immintrin.h>
#include <stdint.h>

#include "dh_internal.h"

#define DH_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

/* Passes over the buffer beyond which the scatter is cheaper (a pass costs about a tenth of an
 * entry's scatter per entry). */
#define MAX_PASSES 24

/* The first `count` of 16 lanes (all of them from 16 on). */
static inline __mmask16 first_lanes(int32_t count) {
  return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
}

DH_TARGET_AVX512 int dh_finish_avx512(const uint64_t *buf, int32_t n, const int32_t *hist, int32_t top, int32_t kept,
                                      int32_t *out_dist, int32_t *out_row) {
  int32_t passes = 0;
  for (int32_t d = 0, at = 0; d <= top && at < kept; d++) {
    passes += hist[d] != 0;
    at += hist[d];
  }
  if (passes > MAX_PASSES) {
    return 0;
  }
  /* entry e = (d << 32 | row): the high halves of two vectors of entries are 16 distances, the
   * low halves their 16 rows */
  const __m512i hi = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  const __m512i lo = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  int32_t at = 0;
  for (int32_t d = 0; d <= top && at < kept; d++) {
    if (hist[d] == 0) {
      continue;
    }
    const int32_t end = at + (hist[d] < kept - at ? hist[d] : kept - at);
    const __m512i dv = _mm512_set1_epi32(d);
    for (int32_t p = at; p < end; p += 16) {
      _mm512_mask_storeu_epi32(out_dist + p, first_lanes(end - p), dv);
    }
    int32_t p = at;
    /* entries past n lie within the buffer's slack (DH_SEL_SLACK) and are masked off */
    for (int32_t i = 0; i < n && p < end; i += 16) {
      const __m512i a = _mm512_loadu_si512((const void *)(buf + i));
      const __m512i b = _mm512_loadu_si512((const void *)(buf + i + 8));
      const __mmask16 valid = first_lanes(n - i);
      const __mmask16 m = _mm512_mask_cmpeq_epi32_mask(valid, _mm512_permutex2var_epi32(a, hi, b), dv);
      const __m512i rows = _mm512_maskz_compress_epi32(m, _mm512_permutex2var_epi32(a, lo, b));
      const int32_t c = __builtin_popcount((unsigned)m);
      const int32_t w = c < end - p ? c : end - p;
      _mm512_mask_storeu_epi32(out_row + p, first_lanes(w), rows);
      p += w;
    }
    at = end;
  }
  return 1;
}
