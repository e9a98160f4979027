/*
 * AVX-512 tier: the finish of a selection whose buffer is in row order (see finish_in_row_order in
 * dh_select.c). The scalar finish scatters each entry to its place; most entries share two or
 * three distances, so consecutive entries update the same position counter and each waits on the
 * last one's store (about 4 ns an entry at k = 1000). Here each distance's entries are gathered
 * instead, 16 entries per step (a compare, a compress of their rows, a store): the two largest
 * distances taken in one pass over the buffer, which also sets the entries below them aside, and
 * each smaller distance in ascending order from those. A stable gather in row order, so ties stay
 * ordered by row (the id).
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

/* The rows (and distances) of 16 entries at buf[i]: the low halves of two vectors of entries are
 * their rows, the high halves their distances. */
DH_TARGET_AVX512 static inline void split16(const uint64_t *buf, int32_t i, __m512i *dist, __m512i *row) {
  const __m512i hi = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  const __m512i lo = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i a = _mm512_loadu_si512((const void *)(buf + i));
  const __m512i b = _mm512_loadu_si512((const void *)(buf + i + 8));
  *dist = _mm512_permutex2var_epi32(a, hi, b);
  *row = _mm512_permutex2var_epi32(a, lo, b);
}

DH_TARGET_AVX512 int dh_finish_avx512(const uint64_t *buf, int32_t n, const int32_t *hist, int32_t top, int32_t kept,
                                      int32_t *out_dist, int32_t *out_row, int32_t *scratch) {
  /* t: the k-th distance (the last one taken); below: entries under t - 1; mid: entries at t - 1 */
  int32_t passes = 0, t = 0, at = 0;
  for (int32_t d = 0; d <= top && at < kept; d++) {
    if (hist[d] != 0) {
      passes++;
      t = d;
    }
    at += hist[d];
  }
  if (passes > MAX_PASSES) {
    return 0;
  }
  int32_t below = 0;
  for (int32_t d = 0; d + 1 < t; d++) {
    below += hist[d];
  }
  const int32_t mid = t >= 1 ? hist[t - 1] : 0;
  for (int32_t d = 0, p = 0; d <= t; d++) {
    const int32_t end = d < t ? p + hist[d] : kept;
    const __m512i dv = _mm512_set1_epi32(d);
    for (; p < end; p += 16) {
      _mm512_mask_storeu_epi32(out_dist + p, first_lanes(end - p), dv);
    }
    p = end;
  }
  /*
   * One pass over the buffer sends the entries at t - 1 and the first ones at t (most of the
   * buffer: at k = 1000 of random codes those two distances hold four fifths of it) straight to
   * their places, and the few below t - 1 to scratch (rows, then distances, kept + 16 each), which
   * the passes for the smaller distances then read instead of the whole buffer. Entries past n
   * lie within the buffer's slack (DH_SEL_SLACK) and are masked off.
   */
  int32_t *low_row = scratch, *low_dist = scratch + kept + 16;
  int32_t nlow = 0, pm = below, pt = below + mid;
  const __m512i tv = _mm512_set1_epi32(t), t1v = _mm512_set1_epi32(t - 1);
  for (int32_t i = 0; i < n; i += 16) {
    __m512i dv, rv;
    split16(buf, i, &dv, &rv);
    const __mmask16 valid = first_lanes(n - i);
    const __mmask16 ml = _mm512_mask_cmplt_epi32_mask(valid, dv, t1v);
    const __mmask16 mm = _mm512_mask_cmpeq_epi32_mask(valid, dv, t1v);
    const __mmask16 mt = _mm512_mask_cmpeq_epi32_mask(valid, dv, tv);
    _mm512_storeu_si512((void *)(low_row + nlow), _mm512_maskz_compress_epi32(ml, rv));
    _mm512_storeu_si512((void *)(low_dist + nlow), _mm512_maskz_compress_epi32(ml, dv));
    nlow += __builtin_popcount((unsigned)ml);
    const int32_t cm = __builtin_popcount((unsigned)mm);
    _mm512_mask_storeu_epi32(out_row + pm, first_lanes(cm), _mm512_maskz_compress_epi32(mm, rv));
    pm += cm;
    const int32_t ct = __builtin_popcount((unsigned)mt), wt = ct < kept - pt ? ct : kept - pt;
    _mm512_mask_storeu_epi32(out_row + pt, first_lanes(wt), _mm512_maskz_compress_epi32(mt, rv));
    pt += wt;
  }
  /* the distances below t - 1, one pass each over the scratch, in ascending order */
  for (int32_t d = 0, p = 0; d + 1 < t; d++) {
    if (hist[d] == 0) {
      continue;
    }
    const int32_t end = p + hist[d];
    const __m512i dv = _mm512_set1_epi32(d);
    for (int32_t i = 0; i < nlow && p < end; i += 16) {
      const __mmask16 m = _mm512_mask_cmpeq_epi32_mask(first_lanes(nlow - i), _mm512_loadu_si512((const void *)(low_dist + i)), dv);
      const int32_t c = __builtin_popcount((unsigned)m);
      _mm512_mask_storeu_epi32(out_row + p, first_lanes(c), _mm512_maskz_compress_epi32(m, _mm512_loadu_si512((const void *)(low_row + i))));
      p += c;
    }
    p = end;
  }
  return 1;
}
