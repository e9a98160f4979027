/*
 * Internal declarations shared by the kernels of the native core. Not installed, not part of
 * the ABI: Java binds only include/deephash.h.
 */
#ifndef DH_INTERNAL_H
#define DH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DH_LIKELY(x) __builtin_expect(!!(x), 1)
#define DH_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define DH_HIDDEN __attribute__((visibility("hidden")))

/*
 * Per-query selection state. Candidates with d <= thr are appended to buf as (d << 32 | row), with
 * no other test in the scan loop (vector kernels store them with compress instructions), and every
 * kernel appends a query's candidates in ascending row order. How the threshold falls depends on
 * what the call knows about the ids:
 *
 * - Counted (ids ascend with rows, and no row is deleted): le is the number of entries with
 *   d <= thr (each append adds its count, nothing else). Once more than k are within thr, a row
 *   still to come at thr has a larger id than k of them and cannot get in: the entries appended
 *   since the last time are counted into hist (tallied: how many of buf are counted), and thr
 *   drops by one (le loses the bin at thr) while more than k stay within it. The threshold stays
 *   one below the smallest distance within which more than k rows have been seen; no append
 *   touches hist, the buffer is cut only if it fills, and finished by one placement by distance.
 * - Otherwise, compaction counts the distances in bins (0..thr), finds the k-th distance T, and
 *   keeps every entry below T and, while they fit in half the buffer, every entry at T: no
 *   comparison sort, whatever k is. Only when the entries at T do not fit are they cut by id (the
 *   smallest ids kept), and then tie is set: an entry at thr with an id above tie_id is worse than
 *   k kept ones and is dropped by the next compaction. Deleted rows go at each compaction. (With
 *   DH_IDS_ASCENDING, "id" is the row number, no id is read, and a cut keeps exactly k and lowers
 *   thr below T, as in the counted mode.)
 */
typedef struct dh_sel {
  int32_t thr;
  int32_t tie;
  int64_t tie_id;
  uint64_t *buf; /* cap + DH_SEL_SLACK entries: vector kernels store whole vectors past n */
  int32_t n;
  int32_t cap;
  int32_t overflowed; /* some live row within max_dist was left out: more than k qualified */
  int32_t below;      /* entries with d < thr: at k the threshold can drop, so compact at once */
  int32_t limit;      /* compact when n reaches it: cap, or k + k/4 when cuts are exact */
  int32_t le;         /* counted mode: entries with d <= thr */
  int32_t le_limit;   /* counted mode: settle when le exceeds it (k; no limit once thr is 0) */
  int32_t top;        /* counted mode: no entry of buf lies above it */
  int32_t tallied;    /* counted mode: buf[0, tallied) is counted in hist */
  int32_t *hist;      /* counted mode: entries of buf[0, tallied) per distance, top + 1 bins */
} dh_sel;

/* Entries a vector kernel may write past n in one store (one 512-bit vector of entries). */
#define DH_SEL_SLACK 16

/* What every kernel of one call shares: the table, k, and scratch for compaction. */
typedef struct dh_ctx {
  const uint8_t *codes;
  const int64_t *ids;
  const uint64_t *tomb;
  int32_t code_bytes;
  int32_t k;
  int32_t ids_ascending; /* ids[r] < ids[r + 1]: ties are ordered by row, no id is read */
  int32_t counted;       /* ids ascending and no tombstones: dh_sel's counted mode */
  int32_t *hist;         /* 4 x hist_stride bins */
  int32_t hist_stride;   /* max_dist + 2 */
  struct dh_pair *pairs; /* cap + DH_SEL_SLACK entries */
  uint64_t *planes;      /* AVX-512 tier, widths other than 64 bits: one tile in word-planar layout */
  int32_t vector_finish; /* AVX-512 tier: finish buffers in row order with dh_finish_avx512 */
} dh_ctx;

typedef struct dh_pair {
  int64_t id;
  uint64_t entry;
} dh_pair;

/* The key that orders ties: the id, or the row itself when ids ascend with rows. */
static inline int64_t dh_tie_key(const dh_ctx *c, uint32_t row) {
  return c->ids_ascending ? (int64_t)row : c->ids[row];
}

/* Compacts s's buffer (see dh_sel); kernels call it through dh_sel_appended. */
DH_HIDDEN void dh_sel_compact(const dh_ctx *c, dh_sel *s) __attribute__((noinline));

/* Counted mode: lowers thr while more than k entries are within it, and compacts a full buffer. */
DH_HIDDEN void dh_sel_settle(const dh_ctx *c, dh_sel *s) __attribute__((noinline));

/* An empty selection admitting d <= thr, its buffer buf of cap (+ DH_SEL_SLACK) entries and, in
 * counted mode, hist of thr + 2 bins; after c's mode fields are set. */
DH_HIDDEN void dh_sel_init(const dh_ctx *c, dh_sel *s, int32_t thr, uint64_t *buf, int32_t cap, int32_t *hist);

/* Counted mode: `added` entries have just been appended; may lower thr. */
static inline void dh_sel_counted(const dh_ctx *c, dh_sel *s, int32_t added) {
  s->le += added;
  if (__builtin_expect(s->le > s->le_limit || s->n >= s->cap, 0)) {
    dh_sel_settle(c, s);
  }
}

/* Accounts for the entries buf[from, n) a kernel has just appended (every one with d <= thr); may
 * lower thr. */
static inline void dh_sel_appended(const dh_ctx *c, dh_sel *s, int32_t from) {
  if (c->counted) {
    dh_sel_counted(c, s, s->n - from);
    return;
  }
  for (int32_t i = from; i < s->n; i++) {
    s->below += (int32_t)(s->buf[i] >> 32) < s->thr;
  }
  if (__builtin_expect(s->n >= s->limit || s->below >= c->k, 0)) {
    dh_sel_compact(c, s);
  }
}

/* Appends the candidate (d, row) if add is set (the caller tested d <= s->thr); otherwise writes it
 * just past the list's end, uncounted, so that a kernel can push without a branch on the test. */
static inline void dh_sel_put(const dh_ctx *c, dh_sel *s, int32_t d, int64_t row, int32_t add) {
  const int32_t n = s->n, thr = s->thr;
  s->buf[n] = ((uint64_t)(uint32_t)d << 32) | (uint32_t)row;
  s->n = n + add;
  if (c->counted) {
    dh_sel_counted(c, s, add);
    return;
  }
  s->below += add & (d < thr);
  if (__builtin_expect(s->n >= s->limit || s->below >= c->k, 0)) {
    dh_sel_compact(c, s);
  }
}

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

/* AVX-512 tier: writes the first `kept` entries of a buffer in row order, ordered by (distance,
 * row), given its distances' counts hist[0..top] (no entry above top), with 2 (kept + 16) ints of
 * scratch; returns 0 (and writes nothing) when the distances are too many for its passes to beat
 * the scalar scatter. */
DH_HIDDEN int dh_finish_avx512(const uint64_t *buf, int32_t n, const int32_t *hist, int32_t top, int32_t kept,
                               int32_t *out_dist, int32_t *out_row, int32_t *scratch);

/* AVX2 kernel for a block of queries over a whole row range (its own tiling); DH_OK or DH_ENOMEM. */
DH_HIDDEN int32_t dh_scan_planar(const dh_ctx *c, const uint8_t *queries, int32_t nq, dh_sel *sels, int64_t r0,
                                 int64_t r1);

/* Distances of one query to a row range, for dh_hamming_distances. */
DH_HIDDEN void dh_dist_scalar(const uint8_t *codes, int32_t cb, int64_t r0, int64_t r1, const uint8_t *q, int32_t *out);

DH_HIDDEN int32_t dh_detect_tier(void);

/* Per-thread scratch (dh_scratch.c): slot DH_SCRATCH_TOPK for a top-k call's buffers,
 * DH_SCRATCH_SAMPLE for its sample, DH_SCRATCH_INNER for the top-k that searches the sample,
 * DH_SCRATCH_RERANK for the re-rank's table-order pass, DH_SCRATCH_SAMPLE_ROWS for the sampled
 * rows themselves (kept for the thread's next call on the same rows). */
#define DH_SCRATCH_TOPK 0
#define DH_SCRATCH_SAMPLE 1
#define DH_SCRATCH_INNER 2
#define DH_SCRATCH_RERANK 3
#define DH_SCRATCH_SAMPLE_ROWS 4
#define DH_SCRATCH_SLOTS 5

/* At least `bytes` of the calling thread's slot, 64-byte aligned, contents undefined; NULL when out
 * of memory. Valid until the thread's next dh_scratch_get or dh_scratch_end on that slot. */
DH_HIDDEN void *dh_scratch_get(int slot, size_t bytes);

/* The call that used the slot is done: a block beyond what threads keep is freed. */
DH_HIDDEN void dh_scratch_end(int slot);

/* DH_OK when tier is valid and this CPU runs it (DH_EINVAL / DH_EUNSUPPORTED otherwise). */
DH_HIDDEN int32_t dh_check_tier(int32_t tier);

static inline uint64_t dh_load64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* n rounded up to a multiple of 64 (a cache line: the pieces carved out of one scratch block). */
static inline size_t dh_round64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Mask keeping the low `bytes` bytes of a word (bytes in 1..8). */
static inline uint64_t dh_tail_mask(int32_t bytes) {
  return bytes >= 8 ? ~(uint64_t)0 : (((uint64_t)1 << (8 * bytes)) - 1);
}

#endif
