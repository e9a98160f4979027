/* The exported entry points: validation, tier dispatch, tiling, scratch memory. */
#include <stdlib.h>

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

static int32_t check_tier(int32_t tier) {
  if (tier < DH_TIER_SCALAR || tier > DH_TIER_AVX512) {
    return DH_EINVAL;
  }
  if (tier > dh_cpu_tier() || scan_for(tier) == NULL) {
    return DH_EUNSUPPORTED;
  }
  return DH_OK;
}

int32_t dh_hamming_topk(int32_t tier, const uint8_t *codes, int32_t code_bytes, int64_t row_begin, int64_t row_end,
                        const int64_t *ids, const uint64_t *tombstones, const uint8_t *queries, int32_t nq, int32_t k,
                        int32_t max_dist, int32_t *out_dist, int32_t *out_row, int32_t *out_count,
                        int32_t *out_flags) {
  int32_t st = check_tier(tier);
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
  /* Room for at least k more candidates between compactions, and never more than the range. */
  int64_t cap = 2 * (int64_t)keff;
  if (cap < keff + 32) {
    cap = keff + 32;
  }
  if (cap > rows + 1) {
    cap = rows + 1;
  }
  if ((uint64_t)nq * (uint64_t)cap > (uint64_t)(SIZE_MAX / 16)) {
    return DH_ENOMEM;
  }
  dh_sel *sels = malloc(sizeof(dh_sel) * (size_t)nq);
  uint64_t *buf = malloc(sizeof(uint64_t) * (size_t)nq * (size_t)cap);
  int32_t *hist = malloc(sizeof(int32_t) * (size_t)(max_dist + 2));
  dh_pair *pairs = malloc(sizeof(dh_pair) * (size_t)cap);
  if (sels == NULL || buf == NULL || hist == NULL || pairs == NULL) {
    free(sels);
    free(buf);
    free(hist);
    free(pairs);
    return DH_ENOMEM;
  }
  for (int32_t q = 0; q < nq; q++) {
    sels[q] = (dh_sel){.thr = max_dist, .buf = buf + (size_t)q * (size_t)cap, .cap = (int32_t)cap};
  }
  const dh_ctx ctx = {.codes = codes, .ids = ids, .tomb = tombstones, .code_bytes = code_bytes, .k = keff,
                      .hist = hist, .pairs = pairs};
  int planar_done = 0;
#ifdef DH_HAVE_X86_TIERS
  /* A block of queries amortises the transposition of the planar kernel; VPOPCNTQ beats it at 64 bits.
   * Should its scratch memory be unavailable, the tiled kernels below still give the answer. */
  if (tier >= DH_TIER_AVX2 && nq >= (code_bytes == 8 ? DH_PLANAR_MIN_QUERIES_64 : DH_PLANAR_MIN_QUERIES) &&
      code_bytes <= 64 && !(tier == DH_TIER_AVX512 && code_bytes == 8)) {
    planar_done = dh_scan_planar(&ctx, queries, nq, sels, row_begin, row_end) == DH_OK;
  }
#endif
  if (!planar_done) {
    const dh_scan_fn scan = scan_for(tier);
    int64_t tile = DH_TILE_BYTES / code_bytes;
    if (tile < 64) {
      tile = 64;
    }
    for (int64_t t0 = row_begin; t0 < row_end; t0 += tile) {
      const int64_t t1 = row_end - t0 > tile ? t0 + tile : row_end;
      scan(&ctx, queries, nq, sels, t0, t1);
    }
  }
  for (int32_t q = 0; q < nq; q++) {
    dh_sel_finish(&ctx, &sels[q], out_dist + (size_t)q * (size_t)k, out_row + (size_t)q * (size_t)k, out_count + q,
                  out_flags + q);
  }
  free(sels);
  free(buf);
  free(hist);
  free(pairs);
  return DH_OK;
}

int32_t dh_hamming_distances(int32_t tier, const uint8_t *codes, int32_t code_bytes, int64_t row_begin,
                             int64_t row_end, const uint8_t *query, int32_t *out) {
  int32_t st = check_tier(tier);
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
