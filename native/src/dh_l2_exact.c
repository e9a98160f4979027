/*
 * The reference squared Euclidean distance: sum over dimensions in order, in float, each term the
 * rounded square of the rounded difference, no fused multiply-add. This is exactly what the Java
 * scalar oracle computes, so results that go through it are bit-identical across backends.
 *
 * This file is compiled without target attributes and with -ffp-contract=off (see
 * native/CMakeLists.txt): no instruction set here has FMA to contract into, and the flag keeps it
 * so should the baseline ever change.
 */
#include "dh_l2_internal.h"

float dh_l2_exact(const float *q, const float *x, int32_t dim) {
  float s = 0;
  for (int32_t j = 0; j < dim; j++) {
    const float diff = q[j] - x[j];
    s += diff * diff;
  }
  return s;
}

float dh_l2_norm(const float *x, int32_t dim) {
  float s = 0;
  for (int32_t j = 0; j < dim; j++) {
    s += x[j] * x[j];
  }
  return s;
}
