/*
 * AVX2 + FMA Euclidean kernels: the AVX-512 design (see dh_l2_avx512.c) at 8 lanes, panels of 16
 * rows and blocks of 6 queries (12 accumulators of the 16 registers).
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "dh_l2_internal.h"

#define DH_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define DH_INLINE static inline __attribute__((always_inline))

#define NR 16
#define QMAX 6

DH_TARGET_AVX2 static void pack_panel(const float *features, int32_t dim, int64_t r, int32_t n, float *panel) {
  if (n < NR) {
    memset(panel, 0, sizeof(float) * NR * (size_t)dim);
  }
  for (int32_t i = 0; i < n; i++) {
    const float *x = features + (size_t)(r + i) * (size_t)dim;
    for (int32_t p = 0; p < dim; p++) {
      panel[(size_t)p * NR + i] = x[p];
    }
  }
}

DH_TARGET_AVX2 DH_INLINE void panel_block(dh_l2ctx *c, const float *panel, int32_t dim, const float *queries,
                                         dh_fsel *sels, int64_t r, __m256 xx0, __m256 xx1, uint32_t valid,
                                         const int QB) {
  __m256 acc0[QMAX], acc1[QMAX];
  for (int j = 0; j < QB; j++) {
    acc0[j] = _mm256_setzero_ps();
    acc1[j] = _mm256_setzero_ps();
  }
  for (int32_t p = 0; p < dim; p++) {
    const __m256 x0 = _mm256_load_ps(panel + (size_t)p * NR);
    const __m256 x1 = _mm256_load_ps(panel + (size_t)p * NR + 8);
    for (int j = 0; j < QB; j++) {
      const __m256 qv = _mm256_broadcast_ss(queries + (size_t)j * (size_t)dim + p);
      acc0[j] = _mm256_fmadd_ps(qv, x0, acc0[j]);
      acc1[j] = _mm256_fmadd_ps(qv, x1, acc1[j]);
    }
  }
  const __m256 minus2 = _mm256_set1_ps(-2.0f);
  for (int j = 0; j < QB; j++) {
    dh_fsel *s = &sels[j];
    const __m256 qq = _mm256_set1_ps((float)s->qq);
    const __m256 a0 = _mm256_fmadd_ps(acc0[j], minus2, _mm256_add_ps(qq, xx0));
    const __m256 a1 = _mm256_fmadd_ps(acc1[j], minus2, _mm256_add_ps(qq, xx1));
    const __m256 adm = _mm256_set1_ps(s->adm);
    uint32_t m = ((uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(a0, adm, _CMP_LE_OQ)) |
                  ((uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(a1, adm, _CMP_LE_OQ)) << 8)) &
                 valid;
    if (__builtin_expect(m != 0, 0)) {
      float av[NR];
      _mm256_storeu_ps(av, a0);
      _mm256_storeu_ps(av + 8, a1);
      while (m != 0) {
        const int lane = __builtin_ctz(m);
        m &= m - 1;
        if (av[lane] <= s->adm) {
          dh_fsel_push(c, s, av[lane], (int32_t)(r + lane));
        }
      }
    }
  }
}

DH_TARGET_AVX2 void dh_l2_scan_avx2(dh_l2ctx *c, const float *queries, int32_t nq, dh_fsel *sels, int64_t r0,
                                    int64_t r1) {
  const int32_t dim = c->dim;
  _Alignas(32) float panel_buf[NR * 512];
  float *panel = panel_buf;
  float *heap = NULL;
  if (dim > 512) {
    heap = _mm_malloc(sizeof(float) * NR * (size_t)dim, 32);
    if (heap == NULL) {
      dh_l2_scan_scalar(c, queries, nq, sels, r0, r1);
      return;
    }
    panel = heap;
  }
  for (int64_t r = r0; r < r1; r += NR) {
    const int32_t n = r1 - r < NR ? (int32_t)(r1 - r) : NR;
    pack_panel(c->features, dim, r, n, panel);
    float xx[NR] = {0};
    memcpy(xx, c->norms + r, sizeof(float) * (size_t)n);
    const __m256 xx0 = _mm256_loadu_ps(xx), xx1 = _mm256_loadu_ps(xx + 8);
    const uint32_t valid = n >= 32 ? 0xFFFFFFFFu : (1u << n) - 1;
    int32_t j = 0;
    for (; j + 6 <= nq; j += 6) {
      panel_block(c, panel, dim, queries + (size_t)j * (size_t)dim, sels + j, r, xx0, xx1, valid, 6);
    }
    for (; j + 2 <= nq; j += 2) {
      panel_block(c, panel, dim, queries + (size_t)j * (size_t)dim, sels + j, r, xx0, xx1, valid, 2);
    }
    for (; j < nq; j++) {
      panel_block(c, panel, dim, queries + (size_t)j * (size_t)dim, sels + j, r, xx0, xx1, valid, 1);
    }
  }
  if (heap != NULL) {
    _mm_free(heap);
  }
}

DH_TARGET_AVX2 static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

DH_TARGET_AVX2 void dh_l2_dots_avx2(const float *rows, int32_t n, int32_t dim, const float *q, float *out) {
  const int32_t full = dim & ~7;
  for (int32_t i = 0; i < n; i++) {
    const float *x = rows + (size_t)i * (size_t)dim;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    int32_t p = 0;
    for (; p + 16 <= full; p += 16) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + p), _mm256_loadu_ps(x + p), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + p + 8), _mm256_loadu_ps(x + p + 8), a1);
    }
    for (; p < full; p += 8) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + p), _mm256_loadu_ps(x + p), a0);
    }
    float dot = hsum(_mm256_add_ps(a0, a1));
    for (; p < dim; p++) {
      dot += q[p] * x[p];
    }
    out[i] = dot;
  }
}

/* 16 codes a step: widened to int32 8 at a time, converted, two accumulators of FMAs. */
DH_TARGET_AVX2 float dh_l2_dot8_avx2(const uint8_t *codes, int32_t dim, const float *q) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0;
  int32_t p = 0;
  for (; p + 16 <= dim; p += 16) {
    const __m128i b = _mm_loadu_si128((const __m128i *)(codes + p));
    const __m256 x0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
    const __m256 x1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(b, 8)));
    a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(q + p), a0);
    a1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(q + p + 8), a1);
  }
  float dot = hsum(_mm256_add_ps(a0, a1));
  for (; p < dim; p++) {
    dot += q[p] * (float)codes[p];
  }
  return dot;
}
