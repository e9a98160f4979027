/*
 * Internal declarations of the Euclidean kernels (exhaustive search and the fine stage of
 * coarse-to-fine search). Not part of the ABI.
 *
 * The kernels compute a = ||q||^2 + ||x||^2 - 2 q.x with blocked FMA dot products, which differs
 * from the reference distance (dh_l2_exact) only by rounding, and by at most c (||q||^2 + ||x||^2)
 * where c bounds the rounding of both (see dh_l2_margin). Selection keeps every row whose lower
 * bound a - margin does not exceed the k-th smallest upper bound a + margin, then recomputes the
 * reference distance of those rows and ranks them by (distance, id): the result is exactly the
 * reference ranking, whatever the rounding of the fast kernels.
 */
#ifndef DH_L2_INTERNAL_H
#define DH_L2_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define DH_HIDDEN __attribute__((visibility("hidden")))

/* Per-query candidates of an exhaustive search: approximate distance a and row. */
typedef struct dh_fsel {
  float *a;
  int32_t *row;
  int32_t n;
  int32_t cap;
  float adm; /* admission threshold on a (rounded up); kernels test a <= adm */
  int32_t pad_;
  double qq; /* ||q||^2 as the kernels use it */
} dh_fsel;

typedef struct dh_l2ctx {
  const float *features;
  const float *norms; /* ||x||^2 per row of the table */
  const int64_t *ids;
  const uint64_t *tomb;
  int32_t dim;
  int32_t k;
  int32_t ids_ascending;
  int32_t status; /* DH_ENOMEM when a candidate buffer could not grow */
  double c;       /* relative margin, see dh_l2_margin */
  double eta;     /* absolute margin: subnormal rounding */
  double xxmax;   /* largest ||x||^2 of the rows scanned */
  double *scratch; /* room for the upper bounds of one buffer */
  int32_t scratch_cap;
} dh_l2ctx;

/* Appends a candidate that passed a <= s->adm; compacts when the buffer is full. */
DH_HIDDEN void dh_fsel_push(dh_l2ctx *c, dh_fsel *s, float a, int32_t row) __attribute__((noinline));

/* Reference distance and squared norm (dh_l2_exact.c, no FMA). */
DH_HIDDEN float dh_l2_exact(const float *q, const float *x, int32_t dim);
DH_HIDDEN float dh_l2_norm(const float *x, int32_t dim);

/* Exhaustive scan of rows [r0, r1) for nq queries (row-major, dim floats each), pushing candidates. */
typedef void (*dh_l2_scan_fn)(dh_l2ctx *c, const float *queries, int32_t nq, dh_fsel *sels, int64_t r0, int64_t r1);
/* out[i] = q . rows[i] for n contiguous rows of dim floats. */
typedef void (*dh_l2_dots_fn)(const float *rows, int32_t n, int32_t dim, const float *q, float *out);

/* q . x^ for the 8-bit row codes[0, dim) of dh_l2_sq8 (x^_d = codes[d]; the caller scales and offsets). */
typedef float (*dh_l2_dot8_fn)(const uint8_t *codes, int32_t dim, const float *q);

DH_HIDDEN void dh_l2_scan_scalar(dh_l2ctx *c, const float *queries, int32_t nq, dh_fsel *sels, int64_t r0, int64_t r1);
DH_HIDDEN void dh_l2_dots_scalar(const float *rows, int32_t n, int32_t dim, const float *q, float *out);
DH_HIDDEN float dh_l2_dot8_scalar(const uint8_t *codes, int32_t dim, const float *q);
DH_HIDDEN void dh_l2_scan_avx2(dh_l2ctx *c, const float *queries, int32_t nq, dh_fsel *sels, int64_t r0, int64_t r1);
DH_HIDDEN void dh_l2_dots_avx2(const float *rows, int32_t n, int32_t dim, const float *q, float *out);
DH_HIDDEN float dh_l2_dot8_avx2(const uint8_t *codes, int32_t dim, const float *q);
DH_HIDDEN void dh_l2_scan_avx512(dh_l2ctx *c, const float *queries, int32_t nq, dh_fsel *sels, int64_t r0,
                                 int64_t r1);
DH_HIDDEN void dh_l2_dots_avx512(const float *rows, int32_t n, int32_t dim, const float *q, float *out);
DH_HIDDEN float dh_l2_dot8_avx512(const uint8_t *codes, int32_t dim, const float *q);

#endif
