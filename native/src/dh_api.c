/* The exported entry points: validation, tier dispatch, tiling, scratch memory. */
#include <stdlib.h>
#include <string.h>

#include "deephash.h"
#include "dh_internal.h"

/* Rows per tile: the tile's codes stay in L2 while every query of the block passes over them. */
#define DH_TILE_BYTES (192 * 1024)
/* From this many queries per call the planar kernel is used: below, its scalar transposition of
 * each tile costs more than it saves (measured on Zen 3). */
#ifndef DH_PLANAR_MIN_QUERIES
#define DH_PLANAR_MIN_QUERIES 64
#endif
/* 64-bit codes have a vector transposition, which pays for itself from 8 queries. */
#define DH_PLANAR_MIN_QUERIES_64 8

int32_t dh_abi_version(void) { return DH_ABI_VERSION; }

int32_t dh_cpu_tier(void) {
  /* Detection is idempotent, so threads racing here at most compute it twice. */
  static int32_t cached = -1;
  int32_t t = __atomic_load_n(&cached, __ATOMIC_RELAXED);
  if (t < 0) {
    t = dh_detect_tier();
    __atomic_store_n(&cached, t, __ATOMIC_RELAXED);
  }
  return t;
}

static dh_scan_fn scan_for(int32_t tier) {
  switch (tier) {
    case DH_TIER_SCALAR:
      return dh_scan_scalar;
#ifdef DH_HAVE_X86_TIERS
    case DH_TIER_AVX2:
      return dh_scan_avx2;
    case DH_TIER_AVX512:
      return dh_scan_avx512;
#endif
    default:
      return NULL;
  }
}

int32_t dh_check_tier(int32_t tier) {
  if (tier < DH_TIER_SCALAR || tier > DH_TIER_AVX512) {
    return DH_EINVAL;
  }
  if (tier > dh_cpu_tier() || scan_for(tier) == NULL) {
    return DH_EUNSUPPORTED;
  }
  return DH_OK;
}

/* dh_hamming_topk with its buffers in the calling thread's scratch slot `slot` (see dh_scratch.c):
 * the public call uses DH_SCRATCH_TOPK, the search of its sample DH_SCRATCH_INNER. */
static int32_t topk(int slot, int32_t tier, const uint8_t *codes, int32_t code_bytes, int64_t row_begin,
                    int64_t row_end, const int64_t *ids, const uint64_t *tombstones, const uint8_t *queries, int32_t nq,
                    int32_t k, int32_t max_dist, int32_t options, int32_t *out_dist, int32_t *out_row,
                    int32_t *out_count, int32_t *out_flags);

/* Rows sampled for the starting threshold of a large k (see sample_bounds): a batch of queries
 * shares one sample, so a batch affords a larger one and gets a tighter threshold. */
#define DH_SAMPLE_ROWS 4096
#define DH_SAMPLE_ROWS_BATCH 32768
#define DH_SAMPLE_BATCH_QUERIES 64

/* The rows this thread last copied into its DH_SCRATCH_SAMPLE_ROWS block (see sample_bounds). */
static _Thread_local struct {
  const void *block;
  const uint8_t *codes;
  int64_t row_begin, rows, s;
  int32_t cb;
} last_sample;

/*
 * A starting threshold for each query of a top-k whose k is large for the range: the distances to
 * S rows spread over the range estimate how far the k-th nearest row lies. If the range held
 * fewer than k rows within the threshold T, the sample's count at T would follow a binomial of
 * mean below lambda = S k / rows; T is the first distance whose sample count reaches
 * lambda + 2 sqrt(lambda) + 1, which that binomial does with probability of a few percent at
 * most (well under 1% in practice: the count at T is usually far above k). So T is nearly always
 * an upper bound of the k-th distance, and rows beyond it need not be looked at; when it is not,
 * the query is searched again from B (the caller checks that at least k rows were found).
 *
 * T is the m-th smallest sample distance, m = floor(lambda + 2 sqrt(lambda) + 1) + 1: a top-m search
 * of the sample through the same tier's kernel. The larger sample of a batch (32768 rows against
 * 4096) puts T one distance lower for k = 1000 of a million random 64-bit codes (20, not 21),
 * which halves the rows admitted while the threshold tightens.
 * Returns 0 when k is too small for the sample to tell anything (no bounds were written).
 */
static int sample_bounds(int32_t tier, const uint8_t *codes, int32_t cb, int64_t row_begin, int64_t rows,
                         const uint8_t *queries, int32_t nq, int32_t k, int32_t bits, int32_t *bounds) {
  int64_t s = nq >= DH_SAMPLE_BATCH_QUERIES ? DH_SAMPLE_ROWS_BATCH : DH_SAMPLE_ROWS;
  if (rows < 8 * s) {
    s = DH_SAMPLE_ROWS;
  }
  const double lambda = (double)s * k / (double)rows;
  if (rows < 8 * s || lambda < 2) {
    return 0;
  }
  double root = lambda; /* sqrt(lambda) by Newton's method: no libm dependency for one square root */
  for (int i = 0; i < 32; i++) {
    root = 0.5 * (root + lambda / root);
  }
  const int32_t m = (int32_t)(lambda + 2 * root + 1) + 1; /* > lambda + 2 sqrt(lambda) + 1 >= 5 */
  const size_t sample_bytes = dh_round64((size_t)s * (size_t)cb + 8), ids_bytes = dh_round64(sizeof(int64_t) * (size_t)s);
  const size_t list_bytes = dh_round64(sizeof(int32_t) * (size_t)nq * (size_t)m), q_bytes = dh_round64(sizeof(int32_t) * (size_t)nq);
  char *rows_mem = dh_scratch_get(DH_SCRATCH_SAMPLE_ROWS, sample_bytes + ids_bytes);
  char *mem = rows_mem == NULL ? NULL : dh_scratch_get(DH_SCRATCH_SAMPLE, 2 * list_bytes + 2 * q_bytes);
  int ok = mem != NULL;
  if (ok) {
    uint8_t *sample = (uint8_t *)rows_mem;
    int64_t *ids = (int64_t *)(rows_mem + sample_bytes);
    int32_t *dist = (int32_t *)mem;
    int32_t *row = (int32_t *)(mem + list_bytes);
    int32_t *count = (int32_t *)(mem + 2 * list_bytes);
    int32_t *flags = (int32_t *)(mem + 2 * list_bytes + q_bytes);
    /* The sample of the thread's last call stays when it took the same rows of the same table: a
     * batch split into calls samples once per thread (the strided copy missed the caches on every
     * row: 3% of a k = 1000 search). Should the table at that address have changed since, the
     * bounds are only less tight or too low, and a bound too low is caught (the query is searched
     * again), so the answer never depends on the sample. */
    if (last_sample.block != rows_mem || last_sample.codes != codes || last_sample.row_begin != row_begin ||
        last_sample.rows != rows || last_sample.s != s || last_sample.cb != cb) {
      /* every (rows / s)-th row: a constant stride the prefetcher follows (no division per row) */
      const size_t step = (size_t)(rows / s) * (size_t)cb;
      const uint8_t *src = codes + (size_t)row_begin * (size_t)cb;
      for (int64_t i = 0; i < s; i++, src += step) {
        memcpy(sample + (size_t)i * (size_t)cb, src, (size_t)cb);
        ids[i] = i;
      }
      memset(sample + (size_t)s * (size_t)cb, 0, 8);
      last_sample.block = rows_mem;
      last_sample.codes = codes;
      last_sample.row_begin = row_begin;
      last_sample.rows = rows;
      last_sample.s = s;
      last_sample.cb = cb;
    }
    /* this search takes no sample of its own (topk with DH_SCRATCH_INNER): a sample of the sample
     * would be copied into this same scratch slot, over the rows being searched */
    ok = topk(DH_SCRATCH_INNER, tier, sample, cb, 0, s, ids, NULL, queries, nq, m, bits, DH_IDS_ASCENDING, dist, row,
              count, flags) == DH_OK;
    if (ok) {
      for (int32_t q = 0; q < nq; q++) {
        bounds[q] = count[q] == m ? dist[(size_t)q * (size_t)m + (size_t)(m - 1)] : bits;
      }
    }
  }
  dh_scratch_end(DH_SCRATCH_SAMPLE);
  return ok;
}

/* Live rows in [r0, r1): the range less its tombstones. */
static int64_t live_rows(const uint64_t *tomb, int64_t r0, int64_t r1) {
  int64_t dead = 0;
  if (tomb != NULL) {
    for (int64_t r = r0; r < r1;) {
      const int64_t w = r >> 6, end = ((w + 1) << 6) < r1 ? (w + 1) << 6 : r1;
      uint64_t bits = tomb[w] >> (r & 63);
      if (end - r < 64) {
        bits &= ((uint64_t)1 << (end - r)) - 1;
      }
      dead += __builtin_popcountll(bits);
      r = end;
    }
  }
  return r1 - r0 - dead;
}

/* Query q's distance bins (counted mode) in the call's hist: after the 4 x (max_dist + 2) shared ones. */
static int32_t *query_bins(const dh_ctx *c, int32_t q) {
  return c->hist + (4 + (size_t)q) * (size_t)c->hist_stride;
}

/* Queries this thread has searched again from B (dh_topk_searched_again). */
static _Thread_local int64_t searched_again;

int64_t dh_topk_searched_again(void) { return searched_again; }

int32_t dh_hamming_topk(int32_t tier, const uint8_t *codes, int32_t code_bytes, int64_t row_begin, int64_t row_end,
                        const int64_t *ids, const uint64_t *tombstones, const uint8_t *queries, int32_t nq, int32_t k,
                        int32_t max_dist, int32_t options, int32_t *out_dist, int32_t *out_row, int32_t *out_count,
                        int32_t *out_flags) {
  const int32_t st = topk(DH_SCRATCH_TOPK, tier, codes, code_bytes, row_begin, row_end, ids, tombstones, queries, nq, k,
                          max_dist, options, out_dist, out_row, out_count, out_flags);
  dh_scratch_end(DH_SCRATCH_TOPK);
  return st;
}

static int32_t topk(int slot, int32_t tier, const uint8_t *codes, int32_t code_bytes, int64_t row_begin,
                    int64_t row_end, const int64_t *ids, const uint64_t *tombstones, const uint8_t *queries, int32_t nq,
                    int32_t k, int32_t max_dist, int32_t options, int32_t *out_dist, int32_t *out_row,
                    int32_t *out_count, int32_t *out_flags) {
  int32_t st = dh_check_tier(tier);
  if (st != DH_OK) {
    return st;
  }
  if (code_bytes < 1 || code_bytes > 512 || row_begin < 0 || row_end < row_begin || row_end > INT32_MAX ||
      nq < 0 || k < 1 || max_dist < 0 || max_dist > 8 * code_bytes) {
    return DH_EINVAL;
  }
  if (nq == 0) {
    return DH_OK;
  }
  if (codes == NULL || ids == NULL || queries == NULL || out_dist == NULL || out_row == NULL || out_count == NULL ||
      out_flags == NULL) {
    return DH_EINVAL;
  }
  const int64_t rows = row_end - row_begin;
  const int32_t keff = (int32_t)(rows < k ? rows : k);
  if (keff == 0) {
    for (int32_t q = 0; q < nq; q++) {
      out_count[q] = 0;
      out_flags[q] = 0;
    }
    return DH_OK;
  }
  /* Room for at least 3k more candidates between compactions (a compaction leaves at most half the
   * buffer, or k), and never more than the range. */
  int64_t cap = 4 * (int64_t)keff + 64;
  if (cap > rows + 1) {
    cap = rows + 1;
  }
  const size_t stride = (size_t)cap + DH_SEL_SLACK;
  if ((uint64_t)nq * (uint64_t)stride > (uint64_t)(SIZE_MAX / 16)) {
    return DH_ENOMEM;
  }
  int64_t tile = DH_TILE_BYTES / code_bytes;
  if (tile < 64) {
    tile = 64;
  }
  /* one block of the thread's scratch: the selections, their buffers, 4 interleaved bins for
   * compaction then max_dist + 2 bins per query (counted mode), the tie pairs, and the AVX-512
   * tier's word-planar tile for widths other than 64 bits */
  const size_t sels_bytes = dh_round64(sizeof(dh_sel) * (size_t)nq);
  const size_t buf_bytes = dh_round64(sizeof(uint64_t) * (size_t)nq * stride);
  const size_t hist_bytes = dh_round64(sizeof(int32_t) * (4 + (size_t)nq) * (size_t)(max_dist + 2));
  const size_t pairs_bytes = dh_round64(sizeof(dh_pair) * stride);
  const size_t planes_bytes =
      tier == DH_TIER_AVX512 && code_bytes != 8 ? (size_t)(code_bytes + 7) / 8 * 8 * (size_t)(tile + 8) : 0;
  char *mem = dh_scratch_get(slot, sels_bytes + buf_bytes + hist_bytes + pairs_bytes + planes_bytes);
  if (mem == NULL) {
    return DH_ENOMEM;
  }
  dh_sel *sels = (dh_sel *)mem;
  uint64_t *buf = (uint64_t *)(mem + sels_bytes);
  int32_t *hist = (int32_t *)(mem + sels_bytes + buf_bytes);
  dh_pair *pairs = (dh_pair *)(mem + sels_bytes + buf_bytes + hist_bytes);
  uint64_t *planes = planes_bytes ? (uint64_t *)(mem + sels_bytes + buf_bytes + hist_bytes + pairs_bytes) : NULL;
  /* A top-k (max_dist = B) with a large k starts from a sampled threshold; out_flags doubles as
   * its scratch until the results are written. */
  const int sampled = slot != DH_SCRATCH_INNER && max_dist == 8 * code_bytes &&
                      sample_bounds(tier, codes, code_bytes, row_begin, rows, queries, nq, keff, max_dist, out_flags);
  const int ascending = (options & DH_IDS_ASCENDING) != 0;
  dh_ctx ctx = {.codes = codes, .ids = ids, .tomb = tombstones, .code_bytes = code_bytes, .k = keff,
                .ids_ascending = ascending, .counted = ascending && tombstones == NULL, .hist = hist,
                .hist_stride = max_dist + 2, .pairs = pairs, .planes = planes,
                .vector_finish = tier == DH_TIER_AVX512};
  int planar_done = 0;
  const int planar = tier == DH_TIER_AVX2 &&
                     nq >= (code_bytes == 8 ? DH_PLANAR_MIN_QUERIES_64 : DH_PLANAR_MIN_QUERIES) && code_bytes <= 64;
  for (int32_t q = 0; q < nq; q++) {
    dh_sel_init(&ctx, &sels[q], sampled ? out_flags[q] : max_dist, buf + (size_t)q * stride, (int32_t)cap,
                query_bins(&ctx, q));
  }
#ifdef DH_HAVE_X86_TIERS
  /* AVX2: a block of queries amortises the transposition of the nibble-planar kernel. (The AVX-512
   * kernels are word-planar themselves.) Should its scratch memory be unavailable, the tiled
   * kernels below still give the answer. */
  if (planar) {
    planar_done = dh_scan_planar(&ctx, queries, nq, sels, row_begin, row_end) == DH_OK;
  }
#endif
  const dh_scan_fn scan = scan_for(tier);
  if (!planar_done) {
    for (int64_t t0 = row_begin; t0 < row_end; t0 += tile) {
      const int64_t t1 = row_end - t0 > tile ? t0 + tile : row_end;
      scan(&ctx, queries, nq, sels, t0, t1);
    }
  }
  const int64_t live = sampled ? live_rows(tombstones, row_begin, row_end) : 0;
  for (int32_t q = 0; q < nq; q++) {
    int32_t *od = out_dist + (size_t)q * (size_t)k, *orow = out_row + (size_t)q * (size_t)k;
    const int32_t bound = sampled ? out_flags[q] : max_dist; /* the starting threshold */
    dh_sel_finish(&ctx, &sels[q], od, orow, out_count + q, out_flags + q);
    if (sampled) {
      if (out_count[q] < keff && bound < max_dist) {
        /* the sampled threshold was below the k-th distance: search this query again from B */
        searched_again++;
        dh_sel_init(&ctx, &sels[q], max_dist, buf + (size_t)q * stride, (int32_t)cap, query_bins(&ctx, q));
        for (int64_t t0 = row_begin; t0 < row_end; t0 += tile) {
          const int64_t t1 = row_end - t0 > tile ? t0 + tile : row_end;
          scan(&ctx, queries + (size_t)q * (size_t)code_bytes, 1, &sels[q], t0, t1);
        }
        dh_sel_finish(&ctx, &sels[q], od, orow, out_count + q, out_flags + q);
      }
      /* every live row is within B: more than k qualified iff more than k are live */
      out_flags[q] = live > k ? DH_FLAG_TRUNCATED : 0;
    }
  }
  return DH_OK;
}

int32_t dh_hamming_distances(int32_t tier, const uint8_t *codes, int32_t code_bytes, int64_t row_begin,
                             int64_t row_end, const uint8_t *query, int32_t *out) {
  int32_t st = dh_check_tier(tier);
  if (st != DH_OK) {
    return st;
  }
  if (code_bytes < 1 || code_bytes > 512 || row_begin < 0 || row_end < row_begin || row_end > INT32_MAX) {
    return DH_EINVAL;
  }
  if (row_end == row_begin) {
    return DH_OK;
  }
  if (codes == NULL || query == NULL || out == NULL) {
    return DH_EINVAL;
  }
  dh_dist_scalar(codes, code_bytes, row_begin, row_end, query, out);
  return DH_OK;
}
