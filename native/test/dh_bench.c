/*
 * Kernel throughput without the JVM: N random codes, Q random queries (independent seeds), top-k
 * on T threads split as the native backend splits them (a batch of queries by queries, in calls of
 * at most 256 queries; fewer queries than 4 per thread by rows), median of R runs. Prints one JSON
 * line per configuration, with the queries a run searched twice (a sampled threshold of a large k
 * that fell below the k-th distance: dh_topk_searched_again). Usage: dh_bench [bits] [n] [nq] [k] [threads] [tier] [runs]
 * Exhaustive Euclidean search: dh_bench l2 [dim] [n] [nq] [k] [threads] [tier] [runs].
 * The fine stage (re-rank of pools): dh_bench rerank [dim] [n] [nq] [pool] [k] [threads] [tier] [runs].
 * The clock and the instruction-mix bounds of the scans: dh_bench bounds.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deephash.h"

typedef struct {
  int32_t tier, cb, nq, k;
  int64_t r0, r1;
  const uint8_t *codes, *queries;
  const int64_t *ids;
  int32_t *od, *orow, *oc, *of;
  int32_t status;
  double cpu; /* thread CPU seconds of the last run: insensitive to other processes on the machine */
  int64_t again; /* queries of the last run searched twice (dh_topk_searched_again) */
  int32_t runs;
  pthread_barrier_t *start, *end;
} job;

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

#define CALL_QUERIES 256

static void run_once(job *j) {
  double c0 = cpu_now();
  const int64_t again0 = dh_topk_searched_again();
  j->status = DH_OK;
  for (int32_t q0 = 0; q0 < j->nq && j->status == DH_OK; q0 += CALL_QUERIES) {
    const int32_t m = j->nq - q0 < CALL_QUERIES ? j->nq - q0 : CALL_QUERIES;
    j->status = dh_hamming_topk(j->tier, j->codes, j->cb, j->r0, j->r1, j->ids, NULL, j->queries + (size_t)q0 * j->cb,
                                m, j->k, 8 * j->cb, DH_IDS_ASCENDING, j->od + (size_t)q0 * j->k,
                                j->orow + (size_t)q0 * j->k, j->oc + q0, j->of + q0);
  }
  j->cpu = cpu_now() - c0;
  j->again = dh_topk_searched_again() - again0;
}

/* The threads live for all the runs, as the engine's pool does, so that their scratch memory (the
 * candidate buffers of a large k) is reused; barriers start and end each run. */
static void *run_job(void *arg) {
  job *j = arg;
  for (int run = 0; run <= j->runs; run++) {
    pthread_barrier_wait(j->start);
    run_once(j);
    pthread_barrier_wait(j->end);
  }
  return NULL;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void fill(uint8_t *p, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; i++) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    p[i] = (uint8_t)(seed >> 24);
  }
}

/* count uniform floats in [0, 1) from the xorshift state *seed. */
static float *random_floats(size_t count, uint64_t *seed) {
  float *v = malloc(sizeof(float) * count);
  for (size_t i = 0; i < count; i++) {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    v[i] = (float)(*seed >> 40) * 0x1.0p-24f;
  }
  return v;
}

/* A table of n random feature rows (dim floats each) with its squared norms and ids 0..n-1, and nq
 * random queries. */
typedef struct {
  float *f, *queries, *norms;
  int64_t *ids;
} l2data;

static l2data l2_data(int64_t n, int32_t dim, int32_t nq, uint64_t seed) {
  l2data d;
  d.f = random_floats((size_t)n * dim, &seed);
  d.queries = random_floats((size_t)nq * dim, &seed);
  d.norms = malloc(sizeof(float) * (size_t)n);
  d.ids = malloc(sizeof(int64_t) * (size_t)n);
  for (int64_t i = 0; i < n; i++) d.ids[i] = i;
  dh_l2_norms(d.f, dim, 0, n, d.norms);
  return d;
}

typedef struct {
  int32_t tier, dim, nq, k;
  int64_t n;
  const float *f, *norms, *queries;
  const int64_t *ids;
  float *od;
  int32_t *orow, *oc;
  int32_t status;
  double cpu;
} l2job;

static void *run_l2(void *arg) {
  l2job *j = arg;
  double c0 = cpu_now();
  const int64_t again0 = dh_topk_searched_again();
  j->status = DH_OK;
  for (int32_t q0 = 0; q0 < j->nq && j->status == DH_OK; q0 += CALL_QUERIES) {
    const int32_t m = j->nq - q0 < CALL_QUERIES ? j->nq - q0 : CALL_QUERIES;
    j->status = dh_l2_topk(j->tier, j->f, j->dim, j->norms, 0, j->n, j->ids, NULL, j->queries + (size_t)q0 * j->dim,
                           m, j->k, DH_IDS_ASCENDING, j->od + (size_t)q0 * j->k, j->orow + (size_t)q0 * j->k,
                           j->oc + q0);
  }
  j->cpu = cpu_now() - c0;
  return NULL;
}

/* dh_bench l2 [dim] [n] [nq] [k] [threads] [tier] [runs]: exhaustive Euclidean top-k, queries split
 * over the threads; reports GFLOP/s of the dot products (2 n nq dim flops). */
static int bench_l2(int argc, char **argv) {
  int32_t dim = argc > 2 ? atoi(argv[2]) : 128;
  int64_t n = argc > 3 ? atoll(argv[3]) : 1000000;
  int32_t nq = argc > 4 ? atoi(argv[4]) : 100;
  int32_t k = argc > 5 ? atoi(argv[5]) : 10;
  int32_t threads = argc > 6 ? atoi(argv[6]) : 2;
  int32_t tier = argc > 7 ? atoi(argv[7]) : dh_cpu_tier();
  int32_t runs = argc > 8 ? atoi(argv[8]) : 5;
  const l2data d = l2_data(n, dim, nq, 0x1234567ULL);
  const float *f = d.f, *qs = d.queries, *norms = d.norms;
  const int64_t *ids = d.ids;
  l2job *jobs = calloc((size_t)threads, sizeof(l2job));
  pthread_t *th = malloc(sizeof(pthread_t) * (size_t)threads);
  for (int t = 0; t < threads; t++) {
    const int32_t q0 = (int32_t)((int64_t)nq * t / threads), q1 = (int32_t)((int64_t)nq * (t + 1) / threads);
    jobs[t] = (l2job){tier, dim, q1 - q0, k, n, f, norms, qs + (size_t)q0 * dim, ids,
                      malloc(sizeof(float) * (size_t)nq * k), malloc(4 * (size_t)nq * k), malloc(4 * (size_t)nq), 0, 0};
  }
  double *times = malloc(sizeof(double) * (size_t)(runs + 1)), *cpus = malloc(sizeof(double) * (size_t)(runs + 1));
  for (int run = 0; run <= runs; run++) {
    double t0 = now();
    for (int t = 0; t < threads; t++) pthread_create(&th[t], NULL, run_l2, &jobs[t]);
    for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
    times[run] = now() - t0;
    cpus[run] = 0;
    for (int t = 0; t < threads; t++) {
      cpus[run] = jobs[t].cpu > cpus[run] ? jobs[t].cpu : cpus[run];
      if (jobs[t].status != DH_OK) {
        fprintf(stderr, "status %d\n", jobs[t].status);
        return 1;
      }
    }
  }
  qsort(times + 1, (size_t)runs, sizeof(double), cmp_double);
  qsort(cpus + 1, (size_t)runs, sizeof(double), cmp_double);
  const double med = times[1 + runs / 2], cpu_med = cpus[1 + runs / 2], flops = 2.0 * n * nq * dim;
  printf("{\"l2\":true,\"dim\":%d,\"n\":%lld,\"queries\":%d,\"k\":%d,\"threads\":%d,\"tier\":%d,\"median_ms\":%.3f,"
         "\"min_ms\":%.3f,\"gflops\":%.1f,\"slowest_thread_cpu_ms\":%.3f,\"gflops_per_cpu_s\":%.1f}\n",
         dim, (long long)n, nq, k, threads, tier, med * 1e3, times[1] * 1e3, flops / med * 1e-9, cpu_med * 1e3,
         flops / threads / cpu_med * 1e-9);
  return 0;
}

/*
 * dh_bench rerank [dim] [n] [nq] [pool] [k] [threads] [tier] [runs] [sq8]: the fine stage of
 * coarse-to-fine search over nq pools of `pool` random rows, as the native backend runs a large
 * batch: thread t computes the bounds of every pool entry whose row is in its t-th of the table
 * (dh_l2_rerank_bounds), then, after a barrier, ranks its share of the queries
 * (dh_l2_rerank_rank). sq8 1 (the default): the first pass reads the table's 8-bit copy. The
 * threads live for all the runs, so that their scratch memory is reused as in the engine's pool;
 * barriers start and end each run.
 */
typedef struct {
  int32_t tier, dim, nq, k, runs, part, parts;
  int64_t n;
  const float *f, *norms, *queries;
  const uint8_t *codes8;
  const float *params8;
  const int64_t *ids;
  const int32_t *offsets, *rows;
  float *bounds;
  pthread_barrier_t *start, *mid, *end;
  int32_t status;
} rrjob;

static void *run_rerank(void *arg) {
  rrjob *j = arg;
  const int32_t q0 = (int32_t)((int64_t)j->nq * j->part / j->parts);
  const int32_t q1 = (int32_t)((int64_t)j->nq * (j->part + 1) / j->parts);
  const int64_t r0 = j->n * j->part / j->parts, r1 = j->n * (j->part + 1) / j->parts;
  float *od = malloc(sizeof(float) * (size_t)(q1 - q0) * j->k + 4);
  int32_t *oi = malloc(sizeof(int32_t) * (size_t)(q1 - q0) * j->k + 4), *oc = malloc(sizeof(int32_t) * (q1 - q0 + 1));
  for (int run = 0; run <= j->runs; run++) {
    pthread_barrier_wait(j->start);
    int32_t st = dh_l2_rerank_bounds(j->tier, j->f, j->dim, j->norms, j->codes8, j->params8, j->queries, j->nq,
                                     j->offsets, j->rows, r0, r1, j->bounds);
    pthread_barrier_wait(j->mid);
    if (st == DH_OK) {
      st = dh_l2_rerank_rank(j->f, j->dim, j->ids, j->queries + (size_t)q0 * j->dim, q1 - q0, j->offsets + q0,
                             j->rows, j->bounds, j->k, DH_IDS_ASCENDING, od, oi, oc);
    }
    j->status = st != DH_OK ? st : j->status;
    pthread_barrier_wait(j->end);
  }
  free(od);
  free(oi);
  free(oc);
  return NULL;
}

static int bench_rerank(int argc, char **argv) {
  /* dim n nq pool k threads tier runs sq8 (tier -1: the CPU's best) */
  static const int64_t defaults[9] = {128, 1000000, 1000, 1000, 10, 2, -1, 5, 1};
  int64_t v[9];
  for (int i = 0; i < 9; i++) {
    v[i] = argc > 2 + i ? atoll(argv[2 + i]) : defaults[i];
  }
  const int32_t dim = (int32_t)v[0], nq = (int32_t)v[2], pool = (int32_t)v[3], k = (int32_t)v[4];
  const int32_t threads = (int32_t)v[5], tier = v[6] < 0 ? dh_cpu_tier() : (int32_t)v[6], runs = (int32_t)v[7];
  const int64_t n = v[1];
  const l2data d = l2_data(n, dim, nq, 0x7654321ULL);
  const float *f = d.f, *qs = d.queries, *norms = d.norms;
  const int64_t *ids = d.ids;
  int32_t *offsets = malloc(sizeof(int32_t) * ((size_t)nq + 1)), *rows = malloc(sizeof(int32_t) * (size_t)nq * pool);
  uint64_t seed = 0x89abcdefULL;
  for (int32_t q = 0; q <= nq; q++) offsets[q] = q * pool;
  for (size_t i = 0; i < (size_t)nq * pool; i++) {
    seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
    rows[i] = (int32_t)(seed % (uint64_t)n);
  }
  uint8_t *codes8 = NULL;
  float *params8 = NULL;
  if (v[8]) {
    codes8 = malloc((size_t)n * dim);
    params8 = malloc(sizeof(float) * 4 * (size_t)n);
    if (codes8 == NULL || params8 == NULL || dh_l2_sq8(f, dim, 0, n, codes8, params8) != DH_OK) {
      fprintf(stderr, "sq8 failed\n");
      return 1;
    }
  }
  float *bounds = malloc(sizeof(float) * 2 * (size_t)nq * pool);
  pthread_barrier_t start, mid, end;
  pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
  pthread_barrier_init(&mid, NULL, (unsigned)threads);
  pthread_barrier_init(&end, NULL, (unsigned)threads + 1);
  rrjob *jobs = calloc((size_t)threads, sizeof(rrjob));
  pthread_t *th = malloc(sizeof(pthread_t) * (size_t)threads);
  for (int t = 0; t < threads; t++) {
    jobs[t] = (rrjob){tier, dim, nq, k, runs, t, threads, n, f, norms, qs, codes8, params8, ids, offsets, rows,
                      bounds, &start, &mid, &end, DH_OK};
    pthread_create(&th[t], NULL, run_rerank, &jobs[t]);
  }
  double *times = malloc(sizeof(double) * (size_t)(runs + 1));
  for (int run = 0; run <= runs; run++) { /* run 0 warms up (and fills the threads' scratch) */
    pthread_barrier_wait(&start);
    const double t0 = now();
    pthread_barrier_wait(&end);
    times[run] = now() - t0;
  }
  for (int t = 0; t < threads; t++) {
    pthread_join(th[t], NULL);
    if (jobs[t].status != DH_OK) {
      fprintf(stderr, "status %d\n", jobs[t].status);
      return 1;
    }
  }
  qsort(times + 1, (size_t)runs, sizeof(double), cmp_double);
  printf("{\"rerank\":true,\"dim\":%d,\"n\":%lld,\"queries\":%d,\"pool\":%d,\"k\":%d,\"threads\":%d,"
         "\"tier\":%d,\"sq8\":%s,\"median_ms\":%.3f,\"min_ms\":%.3f,\"ns_per_row\":%.1f}\n",
         dim, (long long)n, nq, pool, k, threads, tier, v[8] ? "true" : "false", times[1 + runs / 2] * 1e3, times[1] * 1e3,
         times[1 + runs / 2] * 1e9 * threads / ((double)nq * pool));
  return 0;
}

/*
 * dh_bench bounds: the core clock while busy (a chain of dependent adds, one per cycle) and the
 * throughput of each tier's scan instructions alone (registers and L1, no selection), in 64-bit
 * codes per cycle per core: what bench/cpu-matrix.sh sets the measured scans against.
 *   AVX-512: per 8 rows x 8 queries: load, 8 x (XOR, VPOPCNTQ, add bias), 4 ternary ANDs, a mask.
 *   AVX2 (nibble planes): per 32 rows x 1 query: 16 VPSHUFB and 16 saturating byte adds.
 *   (The kernel adds pairs of lookups before accumulating: the same count of adds.)
 */
#if defined(__x86_64__)
#include <immintrin.h>

static double clock_ghz(void) {
  double best = 0;
  for (int rep = 0; rep < 5; rep++) {
    uint64_t x = 0;
    const int64_t iters = 200000000;
    double c0 = cpu_now();
    for (int64_t i = 0; i < iters; i += 4) {
      __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
    }
    const double ghz = (double)iters / (cpu_now() - c0) * 1e-9;
    best = ghz > best ? ghz : best;
  }
  return best;
}

__attribute__((target("avx512f,avx512dq,avx512vpopcntdq"))) static double mix_avx512(double ghz) {
  _Alignas(64) static uint64_t data[8 * 1024];
  uint8_t flags[1024];
  for (int i = 0; i < 8 * 1024; i++) data[i] = (uint64_t)i * 0x9E3779B97F4A7C15ULL;
  __m512i q[8];
  for (int j = 0; j < 8; j++) q[j] = _mm512_set1_epi64(j * 77 + 1);
  const __m512i b = _mm512_set1_epi64(INT64_MAX - 10);
  const long reps = 4000;
  double c0 = cpu_now();
  for (long it = 0; it < reps; it++) {
    for (int g = 0; g < 1024; g++) {
      const __m512i p = _mm512_load_si512(data + 8 * g);
      __m512i all = _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_xor_si512(p, q[0])), b);
      for (int j = 1; j < 7; j += 2) {
        all = _mm512_ternarylogic_epi64(all, _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_xor_si512(p, q[j])), b),
                                        _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_xor_si512(p, q[j + 1])), b),
                                        0x80);
      }
      all = _mm512_and_si512(all, _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_xor_si512(p, q[7])), b));
      flags[g] = (uint8_t)~_mm512_movepi64_mask(all);
    }
    __asm__ volatile("" ::"r"(flags) : "memory");
  }
  const double cycles = (cpu_now() - c0) * ghz * 1e9 / (reps * 1024.0);
  return 64 / cycles;
}

/* The nibble lookup's own mix: per 32 rows and plane one VPSHUFB and one saturating add, 16 of
 * each per 32 64-bit codes. In assembly on 14 registers: written with intrinsics on 16 live
 * vectors the compiler spills (AVX2 has 16 registers), and the figure measures the spills. */
__attribute__((target("avx2"))) static double mix_avx2(double ghz) {
  const long iters = 10000000;
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    double c0 = cpu_now();
    for (long i = 0; i < iters; i++) {
      __asm__ volatile(
          "vpshufb %%ymm14, %%ymm15, %%ymm0\n\tvpaddusb %%ymm0, %%ymm8, %%ymm8\n\t"
          "vpshufb %%ymm14, %%ymm13, %%ymm1\n\tvpaddusb %%ymm1, %%ymm9, %%ymm9\n\t"
          "vpshufb %%ymm14, %%ymm12, %%ymm2\n\tvpaddusb %%ymm2, %%ymm10, %%ymm10\n\t"
          "vpshufb %%ymm14, %%ymm15, %%ymm3\n\tvpaddusb %%ymm3, %%ymm11, %%ymm11\n\t"
          "vpshufb %%ymm14, %%ymm13, %%ymm4\n\tvpaddusb %%ymm4, %%ymm8, %%ymm8\n\t"
          "vpshufb %%ymm14, %%ymm12, %%ymm5\n\tvpaddusb %%ymm5, %%ymm9, %%ymm9\n\t"
          "vpshufb %%ymm14, %%ymm15, %%ymm6\n\tvpaddusb %%ymm6, %%ymm10, %%ymm10\n\t"
          "vpshufb %%ymm14, %%ymm13, %%ymm7\n\tvpaddusb %%ymm7, %%ymm11, %%ymm11\n\t"
          ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11");
    }
    /* one iteration: 8 lookups and 8 adds = 32 rows x 8 nibble planes = 16 codes of 64 bits */
    const double r = 16.0 * iters / ((cpu_now() - c0) * ghz * 1e9);
    best = r > best ? r : best;
  }
  return best;
}

/*
 * Issue rates of single instructions, measured rather than taken from a data sheet: cores that
 * split a 512-bit operation into two 256-bit halves (AMD Zen 4) run half the 512-bit FMAs and
 * VPOPCNTQs per cycle that a naive count of units suggests. Each loop issues 16 independent
 * instructions (14 destinations, no chain longer than 2 per iteration), so latency does not limit.
 */
#define DH_RATE_LOOP(INSN, CLOB)                                                                        \
  for (long i = 0; i < iters; i++) {                                                                    \
    __asm__ volatile(INSN "0\n\t" INSN "1\n\t" INSN "2\n\t" INSN "3\n\t" INSN "4\n\t" INSN "5\n\t" INSN    \
                     "6\n\t" INSN "7\n\t" INSN "8\n\t" INSN "9\n\t" INSN "10\n\t" INSN "11\n\t" INSN "12\n\t"  \
                     INSN "13\n\t" INSN "0\n\t" INSN "1" ::: CLOB);                                       \
  }
#define DH_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", \
                    "xmm11", "xmm12", "xmm13"

/* Instructions per cycle of `which`: 0 vfmadd231ps ymm, 1 vfmadd231ps zmm, 2 vpshufb ymm, 3 vpopcntq
 * zmm. The instructions are assembler text (no target attribute needed); callers check the tier. */
static double rate(int which, double ghz) {
  const long iters = 10000000;
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    double c0 = cpu_now();
    switch (which) {
      case 0: DH_RATE_LOOP("vfmadd231ps %%ymm14, %%ymm15, %%ymm", DH_CLOBBERS) break;
      case 1: DH_RATE_LOOP("vfmadd231ps %%zmm14, %%zmm15, %%zmm", DH_CLOBBERS) break;
      case 2: DH_RATE_LOOP("vpshufb %%ymm14, %%ymm15, %%ymm", DH_CLOBBERS) break;
      default: DH_RATE_LOOP("vpopcntq %%zmm14, %%zmm", DH_CLOBBERS) break;
    }
    const double r = 16.0 * iters / ((cpu_now() - c0) * ghz * 1e9);
    best = r > best ? r : best;
  }
  return best;
}
#undef DH_RATE_LOOP
#undef DH_CLOBBERS

static int bench_bounds(void) {
  const double ghz = clock_ghz();
  const int32_t tier = dh_cpu_tier();
  printf("{\"clock_ghz\":%.3f,\"avx2_mix_codes_per_cycle\":", ghz);
  if (tier >= DH_TIER_AVX2) printf("%.2f", mix_avx2(ghz)); else printf("null");
  printf(",\"avx512_mix_codes_per_cycle\":");
  if (tier >= DH_TIER_AVX512) printf("%.2f", mix_avx512(ghz)); else printf("null");
  /* peaks per core per cycle: FMA flops (8 or 16 lanes x 2), 64-bit codes through the nibble
   * lookup (one VPSHUFB looks up one of a code's 16 nibbles for 32 rows: 2 codes) and through
   * VPOPCNTQ alone (8 codes) */
  if (tier >= DH_TIER_AVX2) {
    printf(",\"fma_flops_per_cycle_avx2\":%.1f,\"vpshufb_codes_per_cycle\":%.2f", 16 * rate(0, ghz),
           2 * rate(2, ghz));
  } else {
    printf(",\"fma_flops_per_cycle_avx2\":null,\"vpshufb_codes_per_cycle\":null");
  }
  if (tier >= DH_TIER_AVX512) {
    printf(",\"fma_flops_per_cycle_avx512\":%.1f,\"vpopcntq_codes_per_cycle\":%.2f", 32 * rate(1, ghz),
           8 * rate(3, ghz));
  } else {
    printf(",\"fma_flops_per_cycle_avx512\":null,\"vpopcntq_codes_per_cycle\":null");
  }
  printf("}\n");
  return 0;
}
#else
static int bench_bounds(void) {
  printf("{\"clock_ghz\":null,\"avx2_mix_codes_per_cycle\":null,\"avx512_mix_codes_per_cycle\":null,"
         "\"fma_flops_per_cycle_avx2\":null,\"vpshufb_codes_per_cycle\":null,\"fma_flops_per_cycle_avx512\":null,"
         "\"vpopcntq_codes_per_cycle\":null}\n");
  return 0;
}
#endif

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "l2") == 0) {
    return bench_l2(argc, argv);
  }
  if (argc > 1 && strcmp(argv[1], "bounds") == 0) {
    return bench_bounds();
  }
  if (argc > 1 && strcmp(argv[1], "rerank") == 0) {
    return bench_rerank(argc, argv);
  }
  int32_t bits = argc > 1 ? atoi(argv[1]) : 64;
  int64_t n = argc > 2 ? atoll(argv[2]) : 1000000;
  int32_t nq = argc > 3 ? atoi(argv[3]) : 1000;
  int32_t k = argc > 4 ? atoi(argv[4]) : 10;
  int32_t threads = argc > 5 ? atoi(argv[5]) : 2;
  int32_t tier = argc > 6 ? atoi(argv[6]) : dh_cpu_tier();
  int32_t runs = argc > 7 ? atoi(argv[7]) : 7;
  int32_t cb = bits / 8;
  uint8_t *codes = malloc((size_t)n * cb + 64), *queries = malloc((size_t)nq * cb + 64);
  int64_t *ids = malloc(sizeof(int64_t) * (size_t)n);
  fill(codes, (size_t)n * cb + 64, 0x1234567ULL);
  fill(queries, (size_t)nq * cb + 64, 0xabcdef99ULL);
  for (int64_t i = 0; i < n; i++) ids[i] = i;
  job *jobs = calloc((size_t)threads, sizeof(job));
  pthread_t *th = malloc(sizeof(pthread_t) * (size_t)threads);
  pthread_barrier_t start, end;
  pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
  pthread_barrier_init(&end, NULL, (unsigned)threads + 1);
  const int by_queries = nq >= 4 * threads;
  for (int t = 0; t < threads; t++) {
    const int32_t q0 = by_queries ? (int32_t)((int64_t)nq * t / threads) : 0;
    const int32_t q1 = by_queries ? (int32_t)((int64_t)nq * (t + 1) / threads) : nq;
    const int64_t r0 = by_queries ? 0 : n * t / threads, r1 = by_queries ? n : n * (t + 1) / threads;
    jobs[t] = (job){tier, cb, q1 - q0, k, r0, r1, codes, queries + (size_t)q0 * cb, ids,
                    malloc(4 * (size_t)nq * k), malloc(4 * (size_t)nq * k), malloc(4 * (size_t)nq), malloc(4 * (size_t)nq), 0,
                    0, 0, runs, &start, &end};
    pthread_create(&th[t], NULL, run_job, &jobs[t]);
  }
  double *times = malloc(sizeof(double) * (size_t)(runs + 1));
  double *cpus = malloc(sizeof(double) * (size_t)(runs + 1));
  int64_t again = 0; /* queries searched twice, over the timed runs */
  for (int run = 0; run <= runs; run++) { /* run 0 warms up */
    double t0 = now();
    pthread_barrier_wait(&start);
    pthread_barrier_wait(&end);
    times[run] = now() - t0;
    cpus[run] = 0;
    for (int t = 0; t < threads; t++) cpus[run] = jobs[t].cpu > cpus[run] ? jobs[t].cpu : cpus[run];
    for (int t = 0; t < threads && run > 0; t++) again += jobs[t].again;
    for (int t = 0; t < threads; t++) {
      if (jobs[t].status != DH_OK) {
        fprintf(stderr, "status %d\n", jobs[t].status);
        return 1;
      }
    }
  }
  for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
  qsort(times + 1, (size_t)runs, sizeof(double), cmp_double);
  double med = times[1 + runs / 2];
  qsort(cpus + 1, (size_t)runs, sizeof(double), cmp_double);
  double cpu_med = cpus[1 + runs / 2];
  printf("{\"bits\":%d,\"n\":%lld,\"queries\":%d,\"k\":%d,\"threads\":%d,\"tier\":%d,\"median_ms\":%.3f,"
         "\"min_ms\":%.3f,\"gcodes_per_s\":%.2f,\"slowest_thread_cpu_ms\":%.3f,\"gcodes_per_cpu_s\":%.2f,"
         "\"searched_again_per_run\":%.2f}\n",
         bits, (long long)n, nq, k, threads, tier, med * 1e3, times[1] * 1e3, (double)n * nq / med * 1e-9, cpu_med * 1e3,
         (double)n * nq / threads / cpu_med * 1e-9, (double)again / runs);
  (void)by_queries;
  return 0;
}
