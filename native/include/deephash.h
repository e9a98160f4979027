/*
 * deephash native SIMD core: the ONE public header, and the whole ABI that Java binds through the
 * FFM API (org.deephash.backend.nativ.NativeLib). Nothing else in the library is exported.
 *
 * Data layout (shared with org.deephash.spi.TableView):
 *   - a code of B bits (B a multiple of 8 in [8, 4096]) is B/8 bytes; bit i is bit (i mod 8) of
 *     byte i/8. Codes are stored tightly: row r starts at byte r * code_bytes.
 *   - the codes and the queries have at least 8 readable bytes after the last code, so kernels
 *     may read a whole 64-bit word and mask it.
 *   - ids are int64, one per row; tombstones are a bitmap (bit r of little-endian uint64 word
 *     r/64 set = row r deleted), or NULL when no row is deleted.
 *
 * Every function is pure and re-entrant: callers split work by query ranges and row ranges and
 * run the pieces on several threads at once. No function aborts the process, prints, or keeps
 * global mutable state (the CPU tier is detected once, idempotently). Errors are returned as the
 * negative DH_E* status codes below.
 */
#ifndef DEEPHASH_H
#define DEEPHASH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define DH_API __declspec(dllexport)
#else
#define DH_API __attribute__((visibility("default")))
#endif

/** Bumped whenever a signature or a meaning below changes; Java refuses a mismatch. */
#define DH_ABI_VERSION 3

/* Status codes. */
#define DH_OK 0
#define DH_EINVAL (-1)       /* an argument is out of range (a caller bug) */
#define DH_ENOMEM (-2)       /* scratch memory could not be allocated */
#define DH_EUNSUPPORTED (-3) /* the requested tier cannot run on this CPU */

/* Instruction-set tiers, ordered: a higher one implies the CPU can run the lower ones. */
#define DH_TIER_SCALAR 1 /* 64-bit POPCNT */
#define DH_TIER_AVX2 2   /* AVX2 + FMA, nibble-lookup popcount (vpshufb) */
#define DH_TIER_AVX512 3 /* AVX-512F/BW with VPOPCNTQ (avx512vpopcntdq) */

/* Options of dh_hamming_topk. */
#define DH_IDS_ASCENDING 1 /* ids[r] < ids[r + 1] for every row: ties are ordered by row, no id is read */

/* Result flags, per query. */
#define DH_FLAG_TRUNCATED 1 /* more than k rows were within max_dist (radius search was capped) */

/** DH_ABI_VERSION of the library actually loaded. */
DH_API int32_t dh_abi_version(void);

/** The best tier this CPU and OS support (DH_TIER_*). */
DH_API int32_t dh_cpu_tier(void);

/**
 * Exact Hamming top-k of a block of queries over a range of rows, the k-selection fused into the
 * scan.
 *
 * For each query q in [0, nq): among the live rows r in [row_begin, row_end) whose Hamming
 * distance d to the query is <= max_dist, the best min(k, count) ranked by (d, ids[r]) ascending
 * are written to out_dist[q*k + i] and out_row[q*k + i], i < out_count[q]; out_flags[q] gets
 * DH_FLAG_TRUNCATED when more than k rows qualified.
 *
 * k-nearest: max_dist = bits. Radius search: max_dist = r, k = the cap.
 *
 * The code range is streamed once per call (not once per query): rows are processed in
 * cache-sized tiles, each tile against every query of the block.
 *
 * @param tier       DH_TIER_* to use (<= dh_cpu_tier(), else DH_EUNSUPPORTED)
 * @param codes      packed codes of the whole table (row 0 at offset 0)
 * @param code_bytes B/8, in [1, 512]
 * @param row_begin  first row of the range, >= 0
 * @param row_end    end of the range (exclusive), >= row_begin
 * @param ids        int64 ids of the whole table
 * @param tombstones deletion bitmap of the whole table, or NULL
 * @param queries    nq packed codes (same layout as codes)
 * @param nq         number of queries, >= 0
 * @param k          results wanted per query, >= 1
 * @param max_dist   accept only distances <= max_dist, in [0, 8*code_bytes]
 * @param options    DH_IDS_ASCENDING or 0
 * @return DH_OK or a negative DH_E* status
 */
DH_API int32_t dh_hamming_topk(int32_t tier, const uint8_t *codes, int32_t code_bytes, int64_t row_begin,
                               int64_t row_end, const int64_t *ids, const uint64_t *tombstones,
                               const uint8_t *queries, int32_t nq, int32_t k, int32_t max_dist, int32_t options,
                               int32_t *out_dist, int32_t *out_row, int32_t *out_count, int32_t *out_flags);

/**
 * Queries that the calling thread's dh_hamming_topk calls have searched twice so far. A large k
 * starts from a threshold estimated on a sample of the rows; a query that finds fewer than k rows
 * within it is searched again from max_dist. That costs time, never exactness; tests and
 * benchmarks read this count to see how often it happens.
 */
DH_API int64_t dh_topk_searched_again(void);

/**
 * Hamming distances of one query to every row in [row_begin, row_end) (tombstones ignored):
 * out[i] = distance to row row_begin + i. For tests and for callers that rank by other means.
 */
DH_API int32_t dh_hamming_distances(int32_t tier, const uint8_t *codes, int32_t code_bytes, int64_t row_begin,
                                    int64_t row_end, const uint8_t *query, int32_t *out);

/*
 * Euclidean search on float32 features (row-major, dim floats per row; queries likewise).
 *
 * Distances are the reference squared Euclidean distance, bit for bit: the sum over dimensions in
 * order, in float, of the rounded square of the rounded difference, without fused multiply-adds
 * (what the Java oracle computes). The kernels find the candidates with blocked FMA dot products
 * and the precomputed squared norms of dh_l2_norms (||q-x||^2 = ||q||^2 + ||x||^2 - 2 q.x) within a
 * proven bound of their rounding, then compute the reference distance of the few rows that can be
 * in the answer. Ranked by (distance, id) ascending.
 */

/** out[i] = squared norm of row row_begin + i (float, any summation order), for dh_l2_topk and dh_l2_rerank. */
DH_API int32_t dh_l2_norms(const float *features, int32_t dim, int64_t row_begin, int64_t row_end, float *out);

/**
 * Exhaustive Euclidean top-k (the paper's ES) of nq queries over the live rows in
 * [row_begin, row_end): the best min(k, live rows) by (distance, id) in out_dist[q*k + i] and
 * out_row[q*k + i], i < out_count[q].
 *
 * @param norms   dh_l2_norms of the whole table (indexed by row)
 * @param options DH_IDS_ASCENDING or 0
 */
DH_API int32_t dh_l2_topk(int32_t tier, const float *features, int32_t dim, const float *norms, int64_t row_begin,
                          int64_t row_end, const int64_t *ids, const uint64_t *tombstones, const float *queries,
                          int32_t nq, int32_t k, int32_t options, float *out_dist, int32_t *out_row,
                          int32_t *out_count);

/**
 * The 8-bit copy of rows [row_begin, row_end) that dh_l2_rerank's first pass may read instead of
 * the float features (a quarter of the bytes). Row r (i = r - row_begin): codes[i*dim + d] = c_d
 * with x_d ~ lo + step c_d, and params[4i .. 4i+3] = lo, step, a bound on the copy's error in the
 * first pass (see dh_l2.c; infinite where the row's range overflows float), the row's squared
 * norm as dh_l2_norms gives it. Results ranked through the copy are exactly those without it.
 */
DH_API int32_t dh_l2_sq8(const float *features, int32_t dim, int64_t row_begin, int64_t row_end, uint8_t *codes,
                         float *params);

/**
 * The fine stage of coarse-to-fine search: for each query q, the pool rows
 * pool_rows[pool_offsets[q] .. pool_offsets[q+1]) ranked by (distance, id); the best min(k, pool
 * size) in out_dist[q*k + i] with out_index[q*k + i] = the entry's index in the query's pool (so
 * the caller keeps its Hamming distance), i < out_count[q]. Pool rows must be live and distinct.
 * One call of dh_l2_rerank_bounds over every row, then dh_l2_rerank_rank.
 *
 * @param sq8_codes, sq8_params dh_l2_sq8 of the whole table (indexed by row), or both NULL: the
 *                  first pass then reads the float features
 */
DH_API int32_t dh_l2_rerank(int32_t tier, const float *features, int32_t dim, const float *norms, const int64_t *ids,
                            const uint8_t *sq8_codes, const float *sq8_params, const float *queries, int32_t nq,
                            const int32_t *pool_offsets, const int32_t *pool_rows, int32_t k, int32_t options,
                            float *out_dist, int32_t *out_index, int32_t *out_count);

/**
 * The fine stage's first pass, for the pool entries whose row is in [row_begin, row_end): entry i
 * (i in [pool_offsets[0], pool_offsets[nq]), row pool_rows[i]) gets bounds of its reference
 * distance in out_bounds[2i] (lower) and out_bounds[2i + 1] (upper); other entries are left as
 * they are. Calls over disjoint row ranges may run at once on one out_bounds: a large batch is
 * split by rows so that each thread streams its part of the table in order.
 */
DH_API int32_t dh_l2_rerank_bounds(int32_t tier, const float *features, int32_t dim, const float *norms,
                                   const uint8_t *sq8_codes, const float *sq8_params, const float *queries,
                                   int32_t nq, const int32_t *pool_offsets, const int32_t *pool_rows,
                                   int64_t row_begin, int64_t row_end, float *out_bounds);

/**
 * The fine stage's second pass: each query's pool ranked as dh_l2_rerank does, from the bounds of
 * dh_l2_rerank_bounds (indexed like pool_rows): the rows that can be among the best k get their
 * reference distance.
 */
DH_API int32_t dh_l2_rerank_rank(const float *features, int32_t dim, const int64_t *ids, const float *queries,
                                 int32_t nq, const int32_t *pool_offsets, const int32_t *pool_rows,
                                 const float *pool_bounds, int32_t k, int32_t options, float *out_dist,
                                 int32_t *out_index, int32_t *out_count);

#ifdef __cplusplus
}
#endif

#endif /* DEEPHASH_H */
