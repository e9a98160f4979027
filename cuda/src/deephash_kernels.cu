// deephash CUDA kernels: exact Hamming top-k and radius search with the selection fused into the
// scan, plus the helpers of the Euclidean re-rank (gather, norms, finalise) whose dot products
// cuBLAS computes.
//
// The selection never materialises a Q x N distance matrix. For each query it finds the exact
// k-th smallest (distance, id) key by radix selection over the key's digits, one scan of the
// table per digit:
//
//   1. dh_scan_hist_*:   histogram of the distances 0..B (per block in shared memory, flushed
//                        into a per-query histogram in global memory).
//   2. dh_select_threshold: per query, the threshold distance T such that fewer than k rows lie
//                        below it and at least k at or below it. Rows with d < T are certain;
//                        of the ties (d == T) the `need` smallest ids are wanted.
//   3. only when the ties do not fit the candidate buffer (many duplicate codes): the id is
//      refined a byte at a time, most significant first (dh_scan_digit_* + dh_select_digit), so
//      the "equal class" (d == T and id' >> shift == prefix) shrinks until it fits. Ids are
//      unique, so eight rounds always suffice.
//   4. dh_scan_emit_*:   every certain row and the whole equal class, appended to a per-query
//                        candidate list (at most candStride entries by construction).
//   5. dh_sort_topk:     one block per query sorts its candidates by (key, id) in shared memory
//                        and writes the first min(k, count): the exact top-k, ties by id.
//
// Ids are compared as signed int64; on the device they are mapped to uint64 by flipping the sign
// bit (id') so that unsigned digit order equals signed order.
//
// Codes live on the device padded to W = ceil(B/64) little-endian 64-bit words per row (the
// repack kernel zero-fills the tail), so the scan reads aligned words for every width; XOR of the
// zero padding adds nothing to the distance. W = 1, 2, 4 (64, 128, 256 bits and anything that
// pads to them) are specialised; other widths use the generic kernel with the query in shared
// memory.

#include <stddef.h>
#include <stdint.h>

#define DH_THREADS 256
#define DH_ROWS_PER_BLOCK 4096
#define DH_SORT_MAX 4096
#define DH_SORT_THREADS 1024
#define DH_MAX_WORDS 64
#define DH_SIGN 0x8000000000000000ULL

// Per-query selection state; the host reads it back with the same layout (64 bytes).
struct __align__(8) DhQueryState {
  int target;     // entries to select: min(k, rows within maxDist)
  int threshold;  // T, or -1 when target == 0
  int shift;      // id' bits below `shift` are free; 64 = no id digit fixed yet
  int need;       // entries still wanted from the equal class
  unsigned long long prefix;  // id' >> shift of the equal class (when shift < 64)
  int eqCount;    // rows in the equal class
  int sure;       // rows ranked strictly before the equal class
  int overflow;   // 1 while sure + eqCount exceeds the candidate buffer
  int total;      // live rows within maxDist (radius search: decides the truncated flag)
  int pad[6];
};
// The host reads target and total at these offsets (Plan.STATE_TARGET / STATE_TOTAL / STATE_BYTES).
static_assert(sizeof(DhQueryState) == 64, "DhQueryState must be 64 bytes");
static_assert(offsetof(DhQueryState, target) == 0, "target offset");
static_assert(offsetof(DhQueryState, total) == 36, "total offset");

static __device__ __forceinline__ bool dh_dead(const unsigned long long* __restrict__ tomb, int row) {
  return tomb != nullptr && ((__ldg(tomb + (row >> 6)) >> (row & 63)) & 1ULL);
}

static __device__ __forceinline__ unsigned long long dh_id_key(long long id) {
  return (unsigned long long)id ^ DH_SIGN;
}

// Distance of one padded row to the query. W > 0: compile-time width with the query in registers;
// W == 0: `words` at run time with the query in shared memory.
template <int W>
struct DhQuery {
  unsigned long long q[W > 0 ? W : 1];
  const unsigned long long* shared;
  int words;

  __device__ __forceinline__ void load(const unsigned long long* __restrict__ src, int nwords,
                                       unsigned long long* smem) {
    words = nwords;
    if (W > 0) {
#pragma unroll
      for (int w = 0; w < (W > 0 ? W : 1); ++w) q[w] = __ldg(src + w);
      shared = nullptr;
    } else {
      for (int w = threadIdx.x; w < nwords; w += blockDim.x) smem[w] = src[w];
      shared = smem;
    }
  }

  __device__ __forceinline__ int distance(const unsigned long long* __restrict__ codes, int row) const {
    int d = 0;
    if (W == 1) {
      d = __popcll(__ldg(codes + row) ^ q[0]);
    } else if (W == 2) {
      const ulonglong2 c = __ldg(reinterpret_cast<const ulonglong2*>(codes) + row);
      d = __popcll(c.x ^ q[0]) + __popcll(c.y ^ q[W > 1 ? 1 : 0]);
    } else if (W == 4) {
      const ulonglong2* p = reinterpret_cast<const ulonglong2*>(codes) + (size_t)row * 2;
      const ulonglong2 a = __ldg(p);
      const ulonglong2 b = __ldg(p + 1);
      d = __popcll(a.x ^ q[0]) + __popcll(a.y ^ q[W > 1 ? 1 : 0]) + __popcll(b.x ^ q[W > 2 ? 2 : 0]) +
          __popcll(b.y ^ q[W > 3 ? 3 : 0]);
    } else if (W > 0) {
      const unsigned long long* c = codes + (size_t)row * (W > 0 ? W : 1);
#pragma unroll
      for (int w = 0; w < (W > 0 ? W : 1); ++w) d += __popcll(__ldg(c + w) ^ q[w]);
    } else {
      const unsigned long long* c = codes + (size_t)row * words;
      for (int w = 0; w < words; ++w) d += __popcll(__ldg(c + w) ^ shared[w]);
    }
    return d;
  }
};

// ---------------------------------------------------------------------------------------------
// 0. Repack tight codes (B/8 bytes a row) into W words a row, zero-filled.
extern "C" __global__ void dh_repack_codes(const unsigned char* __restrict__ src, unsigned long long* __restrict__ dst,
                                           int rows, int codeBytes, int words) {
  long long total = (long long)rows * words;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    long long row = i / words;
    int w = (int)(i - row * words);
    const unsigned char* p = src + row * codeBytes;
    unsigned long long v = 0;
    for (int b = 0; b < 8; ++b) {
      int byte = w * 8 + b;
      if (byte < codeBytes) v |= (unsigned long long)p[byte] << (8 * b);
    }
    dst[i] = v;
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Distance histogram. grid = (row chunks, queries), block = DH_THREADS,
//    dynamic shared = subs * bins * 4 bytes (subs private copies cut atomic contention).
//    Block b scans chunk b * chunkStride: 1 for the whole table, more for the bounded path's sample.
template <int W>
__device__ void dh_scan_hist(const unsigned long long* __restrict__ codes, const unsigned long long* __restrict__ tomb,
                             int rows, int words, const unsigned long long* __restrict__ queries, int maxDist,
                             int bins, int subs, int chunkStride, int* __restrict__ hist) {
  extern __shared__ int sh[];
  __shared__ unsigned long long qsm[DH_MAX_WORDS];
  const int q = blockIdx.y;
  for (int i = threadIdx.x; i < subs * bins; i += blockDim.x) sh[i] = 0;
  DhQuery<W> query;
  query.load(queries + (size_t)q * words, words, qsm);
  __syncthreads();
  int* mine = sh + ((threadIdx.x >> 5) % subs) * bins;
  const int begin = blockIdx.x * chunkStride * DH_ROWS_PER_BLOCK;
  const int end = min(rows, begin + DH_ROWS_PER_BLOCK);
  for (int r = begin + threadIdx.x; r < end; r += blockDim.x) {
    if (dh_dead(tomb, r)) continue;
    int d = query.distance(codes, r);
    if (d <= maxDist) atomicAdd(mine + d, 1);
  }
  __syncthreads();
  for (int i = threadIdx.x; i <= maxDist; i += blockDim.x) {
    int v = 0;
    for (int s = 0; s < subs; ++s) v += sh[s * bins + i];
    if (v != 0) atomicAdd(hist + (size_t)q * bins + i, v);
  }
}

#define DH_HIST(NAME, W)                                                                                      \
  extern "C" __global__ void __launch_bounds__(DH_THREADS) NAME(                                              \
      const unsigned long long* codes, const unsigned long long* tomb, int rows, int words,                   \
      const unsigned long long* queries, int maxDist, int bins, int subs, int chunkStride, int* hist) {       \
    dh_scan_hist<W>(codes, tomb, rows, words, queries, maxDist, bins, subs, chunkStride, hist);               \
  }
DH_HIST(dh_scan_hist_w1, 1)
DH_HIST(dh_scan_hist_w2, 2)
DH_HIST(dh_scan_hist_w4, 4)
DH_HIST(dh_scan_hist_wn, 0)

// ---------------------------------------------------------------------------------------------
// 2. Threshold per query (one thread a query). k: entries wanted; candStride: candidate buffer
//    capacity per query; the equal class may use what the certain rows leave of it.
extern "C" __global__ void dh_select_threshold(const int* __restrict__ hist, int bins, int maxDist, int queries, int k,
                                               int candStride, DhQueryState* __restrict__ state, int* __restrict__ flag) {
  const int q = blockIdx.x * blockDim.x + threadIdx.x;
  if (q >= queries) return;
  const int* h = hist + (size_t)q * bins;
  long long total = 0;
  for (int d = 0; d <= maxDist; ++d) total += h[d];
  DhQueryState s;
  s.total = (int)total;
  s.target = (int)min((long long)k, total);
  s.threshold = -1;
  s.sure = 0;
  s.eqCount = 0;
  if (s.target > 0) {
    int cum = 0;
    for (int d = 0; d <= maxDist; ++d) {
      if (cum + h[d] >= s.target) {
        s.threshold = d;
        s.sure = cum;
        s.eqCount = h[d];
        break;
      }
      cum += h[d];
    }
  }
  s.need = s.target - s.sure;
  s.shift = 64;
  s.prefix = 0ULL;
  s.overflow = (s.target > 0 && s.sure + s.eqCount > candStride) ? 1 : 0;
  for (int i = 0; i < 6; ++i) s.pad[i] = 0;
  state[q] = s;
  if (s.overflow) atomicOr(flag, 1);
}

// Whether a row at the threshold distance belongs to the equal class (cls == 0), ranks before
// it (cls < 0) or after it (cls > 0).
static __device__ __forceinline__ int dh_tie_class(const DhQueryState& s, long long id) {
  if (s.shift >= 64) return 0;
  unsigned long long hi = dh_id_key(id) >> s.shift;
  return hi < s.prefix ? -1 : (hi == s.prefix ? 0 : 1);
}

// ---------------------------------------------------------------------------------------------
// 3a. Histogram of the next id byte within the equal class of overflowing queries.
template <int W>
__device__ void dh_scan_digit(const unsigned long long* __restrict__ codes, const unsigned long long* __restrict__ tomb,
                              const long long* __restrict__ ids, int rows, int words,
                              const unsigned long long* __restrict__ queries, const DhQueryState* __restrict__ state,
                              int* __restrict__ digitHist) {
  __shared__ int sh[256];
  __shared__ unsigned long long qsm[DH_MAX_WORDS];
  const int q = blockIdx.y;
  const DhQueryState s = state[q];
  if (!s.overflow) return;  // uniform over the block
  for (int i = threadIdx.x; i < 256; i += blockDim.x) sh[i] = 0;
  DhQuery<W> query;
  query.load(queries + (size_t)q * words, words, qsm);
  __syncthreads();
  const int nextShift = s.shift - 8;
  const int begin = blockIdx.x * DH_ROWS_PER_BLOCK;
  const int end = min(rows, begin + DH_ROWS_PER_BLOCK);
  for (int r = begin + threadIdx.x; r < end; r += blockDim.x) {
    if (dh_dead(tomb, r)) continue;
    if (query.distance(codes, r) != s.threshold) continue;
    long long id = __ldg(ids + r);
    if (dh_tie_class(s, id) != 0) continue;
    atomicAdd(sh + (int)((dh_id_key(id) >> nextShift) & 255ULL), 1);
  }
  __syncthreads();
  for (int i = threadIdx.x; i < 256; i += blockDim.x) {
    if (sh[i] != 0) atomicAdd(digitHist + (size_t)q * 256 + i, sh[i]);
  }
}

#define DH_DIGIT(NAME, W)                                                                                     \
  extern "C" __global__ void __launch_bounds__(DH_THREADS) NAME(                                              \
      const unsigned long long* codes, const unsigned long long* tomb, const long long* ids, int rows,        \
      int words, const unsigned long long* queries, const DhQueryState* state, int* digitHist) {              \
    dh_scan_digit<W>(codes, tomb, ids, rows, words, queries, state, digitHist);                               \
  }
DH_DIGIT(dh_scan_digit_w1, 1)
DH_DIGIT(dh_scan_digit_w2, 2)
DH_DIGIT(dh_scan_digit_w4, 4)
DH_DIGIT(dh_scan_digit_wn, 0)

// 3b. Fix one more id byte of each overflowing query's equal class.
extern "C" __global__ void dh_select_digit(const int* __restrict__ digitHist, int queries, int candStride,
                                           DhQueryState* __restrict__ state, int* __restrict__ flag) {
  const int q = blockIdx.x * blockDim.x + threadIdx.x;
  if (q >= queries) return;
  DhQueryState s = state[q];
  if (!s.overflow) return;
  const int* h = digitHist + (size_t)q * 256;
  int cum = 0;
  int digit = 255;
  for (int b = 0; b < 256; ++b) {
    if (cum + h[b] >= s.need) {
      digit = b;
      break;
    }
    cum += h[b];
  }
  s.sure += cum;
  s.need -= cum;
  s.eqCount = h[digit];
  s.prefix = (s.shift >= 64 ? 0ULL : (s.prefix << 8)) | (unsigned long long)digit;
  s.shift -= 8;
  s.overflow = (s.sure + s.eqCount > candStride && s.shift > 0) ? 1 : 0;
  state[q] = s;
  if (s.overflow) atomicOr(flag, 1);
}

// ---------------------------------------------------------------------------------------------
// 4. Emit the certain rows and the equal class. Warp-aggregated appends; every thread of a block
//    runs the same number of iterations so the warp votes are safe.
template <int W>
__device__ void dh_scan_emit(const unsigned long long* __restrict__ codes, const unsigned long long* __restrict__ tomb,
                             const long long* __restrict__ ids, int rows, int words,
                             const unsigned long long* __restrict__ queries, const DhQueryState* __restrict__ state,
                             int candStride, unsigned* __restrict__ candKey, long long* __restrict__ candId,
                             int* __restrict__ candRow, int* __restrict__ candCount) {
  __shared__ unsigned long long qsm[DH_MAX_WORDS];
  const int q = blockIdx.y;
  const DhQueryState s = state[q];
  if (s.threshold < 0) return;  // uniform over the block
  DhQuery<W> query;
  query.load(queries + (size_t)q * words, words, qsm);
  __syncthreads();
  const int lane = threadIdx.x & 31;
  const int begin = blockIdx.x * DH_ROWS_PER_BLOCK;
  const int end = min(rows, begin + DH_ROWS_PER_BLOCK);
  const size_t base = (size_t)q * candStride;
  for (int r0 = begin; r0 < end; r0 += blockDim.x) {
    const int r = r0 + threadIdx.x;
    bool take = false;
    int d = 0;
    long long id = 0;
    if (r < end && !dh_dead(tomb, r)) {
      d = query.distance(codes, r);
      if (d < s.threshold) {
        take = true;
        id = __ldg(ids + r);
      } else if (d == s.threshold) {
        id = __ldg(ids + r);
        take = dh_tie_class(s, id) <= 0;
      }
    }
    const unsigned mask = __ballot_sync(0xffffffffu, take);
    if (mask != 0) {
      const int leader = __ffs(mask) - 1;
      int pos = 0;
      if (lane == leader) pos = atomicAdd(candCount + q, __popc(mask));
      pos = __shfl_sync(0xffffffffu, pos, leader);
      if (take) {
        const int slot = pos + __popc(mask & ((1u << lane) - 1u));
        if (slot < candStride) {  // always true by construction; guards memory regardless
          candKey[base + slot] = (unsigned)d;
          candId[base + slot] = id;
          candRow[base + slot] = r;
        }
      }
    }
  }
}

#define DH_EMIT(NAME, W)                                                                                      \
  extern "C" __global__ void __launch_bounds__(DH_THREADS) NAME(                                              \
      const unsigned long long* codes, const unsigned long long* tomb, const long long* ids, int rows,        \
      int words, const unsigned long long* queries, const DhQueryState* state, int candStride,               \
      unsigned* candKey, long long* candId, int* candRow, int* candCount) {                                   \
    dh_scan_emit<W>(codes, tomb, ids, rows, words, queries, state, candStride, candKey, candId, candRow,      \
                    candCount);                                                                               \
  }
DH_EMIT(dh_scan_emit_w1, 1)
DH_EMIT(dh_scan_emit_w2, 2)
DH_EMIT(dh_scan_emit_w4, 4)
DH_EMIT(dh_scan_emit_wn, 0)

// ---------------------------------------------------------------------------------------------
// 5. Exact ordering of each query's candidates by (key, id), first min(k, count) written out.
//    One block of DH_SORT_THREADS per query; count <= DH_SORT_MAX (larger lists are ordered on
//    the host). Keys are Hamming distances or the bits of non-negative floats (same order).
//    dynamic shared = DH_SORT_MAX * (4 + 8 + 2) bytes.
extern "C" __global__ void __launch_bounds__(DH_SORT_THREADS) dh_sort_topk(
    const unsigned* __restrict__ candKey, const long long* __restrict__ candId, const int* __restrict__ candRow,
    const int* __restrict__ candCount, int candStride, int k, int outStride, unsigned* __restrict__ outKey,
    long long* __restrict__ outId, int* __restrict__ outRow, int* __restrict__ outCount) {
  extern __shared__ unsigned long long smem[];
  unsigned long long* ids = smem;                                            // DH_SORT_MAX
  unsigned* keys = reinterpret_cast<unsigned*>(smem + DH_SORT_MAX);          // DH_SORT_MAX
  unsigned short* idx = reinterpret_cast<unsigned short*>(keys + DH_SORT_MAX);  // DH_SORT_MAX
  const int q = blockIdx.x;
  if (candCount[q] < 0) {  // overflow marker of the bounded path: pass it on (uniform over the block)
    if (threadIdx.x == 0) outCount[q] = -1;
    return;
  }
  const int n = min(candCount[q], DH_SORT_MAX);
  const size_t base = (size_t)q * candStride;
  int n2 = 1;
  while (n2 < n) n2 <<= 1;
  for (int i = threadIdx.x; i < n2; i += blockDim.x) {
    if (i < n) {
      keys[i] = candKey[base + i];
      ids[i] = dh_id_key(candId[base + i]);
    } else {
      keys[i] = 0xffffffffu;
      ids[i] = ~0ULL;
    }
    idx[i] = (unsigned short)i;
  }
  for (int size = 2; size <= n2; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      __syncthreads();
      for (int t = threadIdx.x; t < (n2 >> 1); t += blockDim.x) {
        const int lo = 2 * t - (t & (stride - 1));
        const int hi = lo + stride;
        const bool ascending = (lo & size) == 0;
        const bool greater = keys[lo] > keys[hi] || (keys[lo] == keys[hi] && ids[lo] > ids[hi]);
        if (greater == ascending) {
          unsigned kt = keys[lo];
          keys[lo] = keys[hi];
          keys[hi] = kt;
          unsigned long long it = ids[lo];
          ids[lo] = ids[hi];
          ids[hi] = it;
          unsigned short xt = idx[lo];
          idx[lo] = idx[hi];
          idx[hi] = xt;
        }
      }
    }
  }
  __syncthreads();
  const int m = min(k, n);
  const size_t out = (size_t)q * outStride;
  for (int i = threadIdx.x; i < m; i += blockDim.x) {
    outKey[out + i] = keys[i];
    outId[out + i] = (long long)(ids[i] ^ DH_SIGN);
    outRow[out + i] = candRow[base + idx[i]];
  }
  if (threadIdx.x == 0) outCount[q] = m;
}

// ---------------------------------------------------------------------------------------------
// The bounded path for top-k with small k (the common case: k <= DH_BOUND_MAX_K, no radius).
// The histogram path above pays a shared-memory atomic for every (query, row) pair; this one
// pays it only on a sample of the table and scans the whole table with nothing but XOR, POPC
// and a compare, so the scan runs at the chip's popcount rate:
//
//   a. dh_scan_hist_* over every chunkStride-th chunk of rows (the sample), then
//      dh_select_bound: per query, the smallest distance D with at least k sampled live rows at
//      or below it. The whole table has at least as many, so the exact k-th distance is <= D.
//   b. dh_scan_bound_*: every live row with distance <= D is appended to the query's filter
//      list (capacity candCap; the count keeps growing past it, which the next step detects).
//      Blocks hold QB queries in registers and reuse each loaded row for all of them.
//   c. dh_cand_select: per query, the exact threshold among the filtered rows; the certain rows
//      and the ties at the threshold go to the sort buffer (ids attached), then dh_sort_topk
//      orders them. When a filter list or the sort buffer would overflow (duplicate-heavy data,
//      a sample far from the rest of the table), the query's count is set to -1, which
//      dh_sort_topk and the re-rank kernels pass on: the host redoes that batch on the histogram
//      path, so results are always exact.

#define DH_BOUND_ROWS 4096  // rows a bounded-scan block visits per chunk

template <int W, int QB>
__device__ __forceinline__ void dh_scan_bound(const unsigned long long* __restrict__ codes,
                                              const unsigned long long* __restrict__ tomb, int rows, int words,
                                              const unsigned long long* __restrict__ queries, int queryCount,
                                              const int* __restrict__ bound, int candCap,
                                              unsigned* __restrict__ fcKey, int* __restrict__ fcRow,
                                              int* __restrict__ fcCount) {
  constexpr int WW = W > 0 ? W : 1;
  __shared__ unsigned long long qsm[W > 0 ? 1 : QB * DH_MAX_WORDS];
  const int q0 = blockIdx.x * QB;
  unsigned long long q[QB][WW];
  int lim[QB];
#pragma unroll
  for (int j = 0; j < QB; ++j) {
    const bool real = q0 + j < queryCount;
    lim[j] = real ? __ldg(bound + q0 + j) : -1;  // padding queries match nothing
#pragma unroll
    for (int w = 0; w < WW; ++w) q[j][w] = (W > 0 && real) ? __ldg(queries + (size_t)(q0 + j) * WW + w) : 0ULL;
  }
  if (W == 0) {
    for (int i = threadIdx.x; i < QB * words; i += blockDim.x) {
      const int j = i / words;
      qsm[i] = q0 + j < queryCount ? queries[(size_t)(q0 + j) * words + (i - j * words)] : 0ULL;
    }
    __syncthreads();
  }
  const int chunks = (rows + DH_BOUND_ROWS - 1) / DH_BOUND_ROWS;
  for (int chunk = blockIdx.y; chunk < chunks; chunk += gridDim.y) {
    const int end = min(rows, (chunk + 1) * DH_BOUND_ROWS);
#pragma unroll 1
    for (int r = chunk * DH_BOUND_ROWS + threadIdx.x; r < end; r += blockDim.x) {
      int d[QB];
      if (W == 1) {
        const unsigned long long c = __ldg(codes + r);
#pragma unroll
        for (int j = 0; j < QB; ++j) d[j] = __popcll(c ^ q[j][0]);
      } else if (W == 2) {
        const ulonglong2 c = __ldg(reinterpret_cast<const ulonglong2*>(codes) + r);
#pragma unroll
        for (int j = 0; j < QB; ++j) d[j] = __popcll(c.x ^ q[j][0]) + __popcll(c.y ^ q[j][WW > 1 ? 1 : 0]);
      } else if (W == 4) {
        const ulonglong2* p = reinterpret_cast<const ulonglong2*>(codes) + (size_t)r * 2;
        const ulonglong2 a = __ldg(p);
        const ulonglong2 b = __ldg(p + 1);
#pragma unroll
        for (int j = 0; j < QB; ++j)
          d[j] = __popcll(a.x ^ q[j][0]) + __popcll(a.y ^ q[j][WW > 1 ? 1 : 0]) +
                 __popcll(b.x ^ q[j][WW > 2 ? 2 : 0]) + __popcll(b.y ^ q[j][WW > 3 ? 3 : 0]);
      } else {
#pragma unroll
        for (int j = 0; j < QB; ++j) d[j] = 0;
        const unsigned long long* c = codes + (size_t)r * words;
        for (int w = 0; w < words; ++w) {
          const unsigned long long x = __ldg(c + w);
#pragma unroll
          for (int j = 0; j < QB; ++j) d[j] += __popcll(x ^ qsm[j * words + w]);
        }
      }
      unsigned hit = 0;
#pragma unroll
      for (int j = 0; j < QB; ++j) hit |= (unsigned)(d[j] <= lim[j]) << j;
      if (hit != 0 && !dh_dead(tomb, r)) {  // rare: a few hundred rows per query in a million
#pragma unroll
        for (int j = 0; j < QB; ++j) {
          if ((hit >> j) & 1u) {
            const int slot = atomicAdd(fcCount + q0 + j, 1);
            if (slot < candCap) {
              fcKey[(size_t)(q0 + j) * candCap + slot] = (unsigned)d[j];
              fcRow[(size_t)(q0 + j) * candCap + slot] = r;
            }
          }
        }
      }
    }
  }
}

// grid = (ceil(queries / QB), min(row chunks, 65535)); the y loop covers larger tables.
#define DH_BOUND(NAME, W, QB)                                                                                 \
  extern "C" __global__ void __launch_bounds__(DH_THREADS) NAME(                                              \
      const unsigned long long* codes, const unsigned long long* tomb, int rows, int words,                   \
      const unsigned long long* queries, int queryCount, const int* bound, int candCap, unsigned* fcKey,      \
      int* fcRow, int* fcCount) {                                                                             \
    dh_scan_bound<W, QB>(codes, tomb, rows, words, queries, queryCount, bound, candCap, fcKey, fcRow,         \
                         fcCount);                                                                            \
  }
DH_BOUND(dh_scan_bound_w1, 1, 16)
DH_BOUND(dh_scan_bound_w2, 2, 8)
DH_BOUND(dh_scan_bound_w4, 4, 4)
DH_BOUND(dh_scan_bound_wn, 0, 4)

// a. The bound per query from the sample's histogram (one thread a query).
extern "C" __global__ void dh_select_bound(const int* __restrict__ hist, int bins, int maxDist, int queries, int k,
                                           int* __restrict__ bound) {
  const int q = blockIdx.x * blockDim.x + threadIdx.x;
  if (q >= queries) return;
  const int* h = hist + (size_t)q * bins;
  int b = maxDist;  // fewer than k sampled rows: no pruning
  long long cum = 0;
  for (int d = 0; d <= maxDist; ++d) {
    cum += h[d];
    if (cum >= k) {
      b = d;
      break;
    }
  }
  bound[q] = b;
}

// c. One block a query: threshold among the filtered rows, certain rows and ties to the sort
//    buffer (sortCap entries a query, ids looked up); count -1 on overflow.
//    dynamic shared = bins * 4 bytes.
extern "C" __global__ void __launch_bounds__(DH_SORT_THREADS) dh_cand_select(
    const unsigned* __restrict__ fcKey, const int* __restrict__ fcRow, const int* __restrict__ fcCount, int candCap,
    const long long* __restrict__ ids, int bins, int k, int sortCap, unsigned* __restrict__ candKey,
    long long* __restrict__ candId, int* __restrict__ candRow, int* __restrict__ candCount) {
  extern __shared__ int h[];
  __shared__ int sThreshold;
  __shared__ int sOk;
  __shared__ int sPos;
  const int q = blockIdx.x;
  const int n = fcCount[q];
  if (n > candCap) {  // uniform over the block
    if (threadIdx.x == 0) candCount[q] = -1;
    return;
  }
  const size_t base = (size_t)q * candCap;
  for (int i = threadIdx.x; i < bins; i += blockDim.x) h[i] = 0;
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) atomicAdd(h + fcKey[base + i], 1);
  __syncthreads();
  if (threadIdx.x == 0) {
    const int target = min(k, n);
    int t = -1;
    int cum = 0;
    for (int d = 0; d < bins && target > 0; ++d) {
      if (cum + h[d] >= target) {
        t = d;
        break;
      }
      cum += h[d];
    }
    sThreshold = t;
    sOk = t < 0 || cum + h[t] <= sortCap;
    sPos = 0;
  }
  __syncthreads();
  const int t = sThreshold;
  if (sOk) {
    const size_t out = (size_t)q * sortCap;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      const unsigned key = fcKey[base + i];
      if ((int)key <= t) {
        const int row = fcRow[base + i];
        const int p = atomicAdd(&sPos, 1);
        candKey[out + p] = key;
        candId[out + p] = __ldg(ids + row);
        candRow[out + p] = row;
      }
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) candCount[q] = sOk ? sPos : -1;
}

// ---------------------------------------------------------------------------------------------
// Euclidean re-rank helpers. cuBLAS computes dot[q][i] = <x_row(q,i), f_q>; these kernels
// gather the pool's features and turn dots into ||q||^2 + ||x||^2 - 2 q.x.

// Squared norms of `rows` float vectors of `dim` values (one warp a row).
extern "C" __global__ void dh_row_sqnorms(const float* __restrict__ x, long long rows, int dim, float* __restrict__ out) {
  const long long warp = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (warp >= rows) return;
  const float* v = x + warp * dim;
  float s = 0.f;
  for (int j = lane; j < dim; j += 32) s = fmaf(v[j], v[j], s);
  for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
  if (lane == 0) out[warp] = s;
}

// out[q][i][:] = features[poolRow[q][i]][:] for i < poolCount[q], zeros after (all zeros for a
// count of -1, the bounded path's overflow marker, which dh_l2_finalize passes on).
// grid = (poolStride, queries), block = min(dim, 256) threads striding over dim.
extern "C" __global__ void dh_gather_features(const float* __restrict__ features, int dim,
                                              const int* __restrict__ poolRow, const int* __restrict__ poolCount,
                                              int poolStride, float* __restrict__ out) {
  const int i = blockIdx.x;
  const int q = blockIdx.y;
  float* dst = out + ((size_t)q * poolStride + i) * dim;
  if (i < poolCount[q]) {
    const float* src = features + (size_t)poolRow[(size_t)q * poolStride + i] * dim;
    for (int j = threadIdx.x; j < dim; j += blockDim.x) dst[j] = src[j];
  } else {
    for (int j = threadIdx.x; j < dim; j += blockDim.x) dst[j] = 0.f;
  }
}

// Candidate list of the fine stage: key = bits of max(0, ||q||^2 + ||x||^2 - 2 dot), id from the
// pool, row = the entry's position in the pool (so its Hamming distance can be found).
extern "C" __global__ void dh_l2_finalize(const float* __restrict__ dots, const float* __restrict__ queryNorms,
                                          const float* __restrict__ rowNorms, const int* __restrict__ poolRow,
                                          const long long* __restrict__ poolId, const int* __restrict__ poolCount,
                                          int poolStride, int queries, unsigned* __restrict__ candKey,
                                          long long* __restrict__ candId, int* __restrict__ candRow,
                                          int* __restrict__ candCount) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const int q = blockIdx.y;
  if (q >= queries || i >= poolStride) return;
  const int n = poolCount[q];
  const size_t at = (size_t)q * poolStride + i;
  if (i < n) {
    float l2 = queryNorms[q] + rowNorms[poolRow[at]] - 2.f * dots[at];
    l2 = fmaxf(l2, 0.f);  // rounding can push an exact match below zero
    candKey[at] = __float_as_uint(l2);
    candId[at] = poolId[at];
    candRow[at] = i;
  }
  if (i == 0) candCount[q] = n;
}
