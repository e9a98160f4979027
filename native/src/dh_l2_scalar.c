/*
 * Portable Euclidean kernels (the scalar tier, and every CPU without AVX2): plain loops that the
 * compiler may vectorise as it likes; their rounding is covered by the margins of dh_l2.c.
 */
#include "dh_l2_internal.h"

void dh_l2_scan_scalar(dh_l2ctx *c, const float *queries, int32_t nq, dh_fsel *sels, int64_t r0, int64_t r1) {
  const int32_t dim = c->dim;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = c->features + (size_t)r * (size_t)dim;
    const float xx = c->norms[r];
    for (int32_t j = 0; j < nq; j++) {
      const float *q = queries + (size_t)j * (size_t)dim;
      float dot = 0;
      for (int32_t p = 0; p < dim; p++) {
        dot += q[p] * x[p];
      }
      const float a = ((float)sels[j].qq + xx) - 2 * dot;
      if (a <= sels[j].adm) {
        dh_fsel_push(c, &sels[j], a, (int32_t)r);
      }
    }
  }
}

void dh_l2_dots_scalar(const float *rows, int32_t n, int32_t dim, const float *q, float *out) {
  for (int32_t i = 0; i < n; i++) {
    const float *x = rows + (size_t)i * (size_t)dim;
    float dot = 0;
    for (int32_t p = 0; p < dim; p++) {
      dot += q[p] * x[p];
    }
    out[i] = dot;
  }
}

float dh_l2_dot8_scalar(const uint8_t *codes, int32_t dim, const float *q) {
  float dot = 0;
  for (int32_t p = 0; p < dim; p++) {
    dot += q[p] * (float)codes[p];
  }
  return dot;
}
