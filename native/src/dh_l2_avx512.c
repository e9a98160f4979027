/*
 * AVX-512 Euclidean kernels.
 *
 * Exhaustive search is a blocked matrix product: each panel of 32 rows is transposed once into
 * dimension-major order (32 consecutive floats per dimension) and every block of 8 queries runs
 * over it with 16 accumulators in registers: per dimension, two loads and 16 FMAs with a
 * broadcast query value, no horizontal sum. The epilogue forms a = ||q||^2 + ||x||^2 - 2 q.x for
 * 32 rows at once and compares it with each query's admission threshold.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "dh_l2_internal.h"

#define DH_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))
#define DH_INLINE static inline __attribute__((always_inline))

#define NR 32 /* rows per panel: two vectors */
#define QMAX 8

/* o[c] = column c of the 16 x 16 block whose row i is r[i]: 64 shuffles for 256 floats. */
DH_TARGET_AVX512 DH_INLINE void transpose16(const __m512 *r, __m512 *o) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  /* u[4g + j], 128-bit lane L: rows 4g..4g+3 of column 4L + j */
  for (int g = 0; g < 4; g++) {
    u[4 * g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
    u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
  }
  for (int j = 0; j < 4; j++) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
    const __m512 v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
    const __m512 v3 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
    o[j] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    o[j + 8] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    o[j + 4] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    o[j + 12] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
  }
}

/* Rows [r, r + n) (n <= NR) as panel[p * NR + i] = x[r + i][p]; missing rows are zero. Full panels
 * go through 16 x 16 register transposes; packing is paid once per call for every query of it. */
DH_TARGET_AVX512 static void pack_panel(const float *features, int32_t dim, int64_t r, int32_t n, float *panel) {
  int32_t p0 = 0;
  if (n == NR) {
    for (; p0 + 16 <= dim; p0 += 16) {
      for (int half = 0; half < 2; half++) {
        __m512 rows[16], cols[16];
        for (int i = 0; i < 16; i++) {
          rows[i] = _mm512_loadu_ps(features + (size_t)(r + 16 * half + i) * (size_t)dim + p0);
        }
        transpose16(rows, cols);
        for (int c = 0; c < 16; c++) {
          _mm512_store_ps(panel + (size_t)(p0 + c) * NR + 16 * half, cols[c]);
        }
      }
    }
  } else {
    memset(panel, 0, sizeof(float) * NR * (size_t)dim);
  }
  for (int32_t i = 0; i < n; i++) {
    const float *x = features + (size_t)(r + i) * (size_t)dim;
    for (int32_t p = p0; p < dim; p++) {
      panel[(size_t)p * NR + i] = x[p];
    }
  }
}

DH_TARGET_AVX512 DH_INLINE void panel_block(dh_l2ctx *c, const float *panel, int32_t dim, const float *queries,
                                           dh_fsel *sels, int64_t r, __m512 xx0, __m512 xx1, __mmask16 v0,
                                           __mmask16 v1, const int QB) {
  __m512 acc0[QMAX], acc1[QMAX];
  for (int j = 0; j < QB; j++) {
    acc0[j] = _mm512_setzero_ps();
    acc1[j] = _mm512_setzero_ps();
  }
  const float *qrow[QMAX];
  for (int j = 0; j < QB; j++) {
    qrow[j] = queries + (size_t)j * (size_t)dim;
  }
  for (int32_t p = 0; p < dim; p++) {
    const __m512 x0 = _mm512_load_ps(panel + (size_t)p * NR);
    const __m512 x1 = _mm512_load_ps(panel + (size_t)p * NR + 16);
    for (int j = 0; j < QB; j++) {
      const __m512 qv = _mm512_set1_ps(qrow[j][p]);
      acc0[j] = _mm512_fmadd_ps(qv, x0, acc0[j]);
      acc1[j] = _mm512_fmadd_ps(qv, x1, acc1[j]);
    }
  }
  const __m512 minus2 = _mm512_set1_ps(-2.0f);
  for (int j = 0; j < QB; j++) {
    dh_fsel *s = &sels[j];
    const __m512 qq = _mm512_set1_ps((float)s->qq);
    const __m512 a0 = _mm512_fmadd_ps(acc0[j], minus2, _mm512_add_ps(qq, xx0));
    const __m512 a1 = _mm512_fmadd_ps(acc1[j], minus2, _mm512_add_ps(qq, xx1));
    const __m512 adm = _mm512_set1_ps(s->adm);
    __mmask16 m0 = _mm512_mask_cmp_ps_mask(v0, a0, adm, _CMP_LE_OQ);
    __mmask16 m1 = _mm512_mask_cmp_ps_mask(v1, a1, adm, _CMP_LE_OQ);
    if (__builtin_expect((m0 | m1) != 0, 0)) {
      float av[NR];
      _mm512_storeu_ps(av, a0);
      _mm512_storeu_ps(av + 16, a1);
      uint32_t m = (uint32_t)m0 | ((uint32_t)m1 << 16);
      while (m != 0) {
        const int lane = __builtin_ctz(m);
        m &= m - 1;
        if (av[lane] <= s->adm) { /* re-read: a push may have lowered it */
          dh_fsel_push(c, s, av[lane], (int32_t)(r + lane));
        }
      }
    }
  }
}

DH_TARGET_AVX512 void dh_l2_scan_avx512(dh_l2ctx *c, const float *queries, int32_t nq, dh_fsel *sels, int64_t r0,
                                        int64_t r1) {
  const int32_t dim = c->dim;
  _Alignas(64) float panel_buf[NR * 256];
  float *panel = panel_buf;
  float *heap = NULL;
  if (dim > 256) {
    heap = _mm_malloc(sizeof(float) * NR * (size_t)dim, 64);
    if (heap == NULL) {
      /* no room for a panel: the portable kernel needs none */
      dh_l2_scan_scalar(c, queries, nq, sels, r0, r1);
      return;
    }
    panel = heap;
  }
  for (int64_t r = r0; r < r1; r += NR) {
    const int32_t n = r1 - r < NR ? (int32_t)(r1 - r) : NR;
    pack_panel(c->features, dim, r, n, panel);
    const __mmask16 v0 = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
    const __mmask16 v1 = n >= 32 ? (__mmask16)0xFFFF : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    const __m512 xx0 = _mm512_maskz_loadu_ps(v0, c->norms + r);
    const __m512 xx1 = _mm512_maskz_loadu_ps(v1, c->norms + r + 16);
    int32_t j = 0;
    for (; j + 8 <= nq; j += 8) {
      panel_block(c, panel, dim, queries + (size_t)j * (size_t)dim, sels + j, r, xx0, xx1, v0, v1, 8);
    }
    for (; j + 4 <= nq; j += 4) {
      panel_block(c, panel, dim, queries + (size_t)j * (size_t)dim, sels + j, r, xx0, xx1, v0, v1, 4);
    }
    for (; j < nq; j++) {
      panel_block(c, panel, dim, queries + (size_t)j * (size_t)dim, sels + j, r, xx0, xx1, v0, v1, 1);
    }
  }
  if (heap != NULL) {
    _mm_free(heap);
  }
}

/* Four rows at a time share each load of the query; tails of dim are masked. */
DH_TARGET_AVX512 void dh_l2_dots_avx512(const float *rows, int32_t n, int32_t dim, const float *q, float *out) {
  const int32_t full = dim & ~15;
  const __mmask16 tail = (__mmask16)((1u << (dim & 15)) - 1);
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float *x0 = rows + (size_t)i * (size_t)dim, *x1 = x0 + dim, *x2 = x1 + dim, *x3 = x2 + dim;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int32_t p = 0;
    for (; p < full; p += 16) {
      const __m512 qv = _mm512_loadu_ps(q + p);
      a0 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(x0 + p), a0);
      a1 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(x1 + p), a1);
      a2 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(x2 + p), a2);
      a3 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(x3 + p), a3);
    }
    if (tail) {
      const __m512 qv = _mm512_maskz_loadu_ps(tail, q + p);
      a0 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, x0 + p), a0);
      a1 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, x1 + p), a1);
      a2 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, x2 + p), a2);
      a3 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, x3 + p), a3);
    }
    out[i] = _mm512_reduce_add_ps(a0);
    out[i + 1] = _mm512_reduce_add_ps(a1);
    out[i + 2] = _mm512_reduce_add_ps(a2);
    out[i + 3] = _mm512_reduce_add_ps(a3);
  }
  for (; i < n; i++) {
    const float *x = rows + (size_t)i * (size_t)dim;
    __m512 acc = _mm512_setzero_ps();
    int32_t p = 0;
    for (; p < full; p += 16) {
      acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + p), _mm512_loadu_ps(x + p), acc);
    }
    if (tail) {
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, q + p), _mm512_maskz_loadu_ps(tail, x + p), acc);
    }
    out[i] = _mm512_reduce_add_ps(acc);
  }
}

/* 32 codes a step: widened to int32, converted, two accumulators of FMAs with the query. */
DH_TARGET_AVX512 float dh_l2_dot8_avx512(const uint8_t *codes, int32_t dim, const float *q) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0;
  int32_t p = 0;
  for (; p + 32 <= dim; p += 32) {
    const __m512 x0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(codes + p))));
    const __m512 x1 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(codes + p + 16))));
    a0 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(q + p), a0);
    a1 = _mm512_fmadd_ps(x1, _mm512_loadu_ps(q + p + 16), a1);
  }
  if (p + 16 <= dim) {
    const __m512 x0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(codes + p))));
    a0 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(q + p), a0);
    p += 16;
  }
  if (p < dim) {
    const __mmask16 tail = (__mmask16)((1u << (dim - p)) - 1);
    const __m512 x0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(tail, codes + p)));
    a1 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(tail, q + p), a1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}
