/*
 * Internal declarations shared by the kernels of the native core. Not installed, not part of
 * the ABI: Java binds only include/deephash.h.
 */
#ifndef DH_INTERNAL_H
#define DH_INTERNAL_H

#include <stdint.h>
#include <string.h>

#define DH_LIKELY(x) __builtin_expect(!!(x), 1)
#define DH_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define DH_HIDDEN __attribute__((visibility("hidden")))

/*
 * Per-query selection state. Candidates with d <= thr are appended to buf as (d << 32 | row);
 * when buf is full it is compacted to the best k by (distance, id), and thr drops to the k-th
 * distance. When tie is set, a candidate at d == thr is better than the current k-th only if its
 * id is below tie_id, so equal distances cannot refill the buffer over and over.
 */
typedef struct dh_sel {
  int32_t thr;
  int32_t tie;
  int64_t tie_id;
  uint64_t *buf;
  int32_t n;
  int32_t cap;
  int32_t overflowed;
  int32_t pad_;
} dh_sel;

/* What every kernel of one call shares: the table, k, and scratch for compaction. */
typedef struct dh_ctx {
  const uint8_t *codes;
  const int64_t *ids;
  const uint64_t *tomb;
  int32_t code_bytes;
  int32_t k;
  int32_t *hist;         /* max_dist + 2 bins */
  struct dh_pair *pairs; /* cap entries */
} dh_ctx;

typedef struct dh_pair {
  int64_t id;
  uint64_t entry;
} dh_pair;

/* Out of line on purpose: the scan loops stay small, and this runs for a tiny fraction of rows. */
DH_HIDDEN void dh_sel_push(const dh_ctx *c, dh_sel *s, int32_t d, int64_t row) __attribute__((noinline));
DH_HIDDEN void dh_sel_finish(const dh_ctx *c, dh_sel *s, int32_t *out_dist, int32_t *out_row, int32_t *out_count,
                             int32_t *out_flags);

/* One kernel per tier: scans rows [r0, r1) against all nq queries, pushing candidates. */
typedef void (*dh_scan_fn)(const dh_ctx *c, const uint8_t *queries, int32_t nq, dh_sel *sels, int64_t r0,
                           int64_t r1);

DH_HIDDEN void dh_scan_scalar(const dh_ctx *c, const uint8_t *queries, int32_t nq, dh_sel *sels, int64_t r0,
                              int64_t r1);
DH_HIDDEN void dh_scan_avx2(const dh_ctx *c, const uint8_t *queries, int32_t nq, dh_sel *sels, int64_t r0,
                            int64_t r1);
DH_HIDDEN void dh_scan_avx512(const dh_ctx *c, const uint8_t *queries, int32_t nq, dh_sel *sels, int64_t r0,
                              int64_t r1);

/* AVX2 kernel for a block of queries over a whole row range (its own tiling); DH_OK or DH_ENOMEM. */
DH_HIDDEN int32_t dh_scan_planar(const dh_ctx *c, const uint8_t *queries, int32_t nq, dh_sel *sels, int64_t r0,
                                 int64_t r1);

/* Distances of one query to a row range, for dh_hamming_distances. */
DH_HIDDEN void dh_dist_scalar(const uint8_t *codes, int32_t cb, int64_t r0, int64_t r1, const uint8_t *q, int32_t *out);

DH_HIDDEN int32_t dh_detect_tier(void);

static inline uint64_t dh_load64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* Mask keeping the low `bytes` bytes of a word (bytes in 1..8). */
static inline uint64_t dh_tail_mask(int32_t bytes) {
  return bytes >= 8 ? ~(uint64_t)0 : (((uint64_t)1 << (8 * bytes)) - 1);
}

#endif
