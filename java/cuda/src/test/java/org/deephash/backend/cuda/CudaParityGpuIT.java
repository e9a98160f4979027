package org.deephash.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;
import org.deephash.spi.Queries;
import org.deephash.testing.ParitySuite;
import org.deephash.testing.TestData;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CUDA backend against the scalar oracle on a real GPU (failsafe: {@code mvn verify}).
 * Skipped by assumption, with the provider's reasons, where no GPU is usable; where one is, it
 * first asserts that searches really run on it. With {@code -Ddeephash.requireGpu=true} (set by
 * .ci/gpu, bench/gpu-check.sh) a missing GPU fails instead of skipping.
 */
class CudaParityGpuIT {
  private static final long SEED = Long.getLong("test.seed", 20261123L);

  @BeforeEach
  void requireGpu() {
    List<String> reasons = new CudaBackendProvider().unavailableReasons();
    if (Boolean.getBoolean("deephash.requireGpu")) {
      // on a GPU node (.ci/gpu, bench/gpu-check.sh) a missing GPU is a failure, not a skip
      assertTrue(reasons.isEmpty(), () -> "no usable GPU: " + String.join("; ", reasons));
    }
    assumeTrue(reasons.isEmpty(), () -> "no usable GPU: " + String.join("; ", reasons));
  }

  @Test
  void reallyRunsOnTheGpu() {
    try (CodeTable t = CodeTable.create(64, 0, false);
        GpuHashSearch s = GpuHashSearch.open(t, new SearchOptions("cuda", 1))) {
      t.addAll(null, new byte[8 * 100], null, null);
      assertEquals("cuda", s.backendName());
      assertTrue(s.device().contains("sm_"), s.device());
      assertEquals(10, s.query(new byte[8], 10).count(0));
    }
    try (CudaBackend b = (CudaBackend) new CudaBackendProvider().create(1);
        CodeTable t = CodeTable.create(128, 0, false)) {
      t.addAll(null, new byte[16 * 5000], null, null);
      try (CodeTable.LockedView v = t.view(); java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
        var qc = a.allocate(16 * 3 + 64, 64);
        b.knn(v.get(), new Queries(3, qc, java.lang.foreign.MemorySegment.NULL), 7);
        Map<String, Double> ms = b.lastTimingsMs();
        assertTrue(ms.get("scan") > 0, "device scan time must be measured: " + ms);
        assertTrue(ms.keySet().containsAll(List.of("upload", "scan", "rerank", "download", "total")), ms.toString());
      }
    }
  }

  static Stream<Arguments> hammingCases() {
    List<Arguments> out = new ArrayList<>();
    for (int bits : ParitySuite.BITS) {
      for (int n : ParitySuite.SIZES) {
        out.add(Arguments.of(bits, n));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "bits={0} n={1}")
  @MethodSource("hammingCases")
  @Timeout(300)
  void hammingMatchesOracle(int bits, int n) {
    new ParitySuite("cuda", 2).hamming(bits, n, SEED + bits * 31L + n);
  }

  /** k = 4096 (above FAISS's 2048 limit) and k just above one sorting block (host-ordered). */
  @ParameterizedTest(name = "bits={0}")
  @MethodSource("bigKBits")
  @Timeout(300)
  void largeK(int bits) {
    int n = 20000;
    SplittableRandom rnd = new SplittableRandom(SEED + bits);
    byte[] codes = TestData.codes(rnd, n, bits / 8);
    long[] ids = TestData.ids(rnd, n);
    byte[] queries = TestData.queries(rnd.split(), codes, n, 4, bits / 8);
    try (CodeTable t = TestData.table(bits, 0, codes, ids, null);
        GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
        GpuHashSearch gpu = GpuHashSearch.open(t, new SearchOptions("cuda", 1))) {
      for (int k : new int[] {2048, 4096, 4097, 10000}) {
        ParitySuite.assertSame(oracle.query(queries, k), gpu.query(queries, k), "bits=" + bits + " k=" + k);
      }
    }
  }

  static Stream<Integer> bigKBits() {
    return Stream.of(64, 128, 256, 72, 1024);
  }

  /** Every row identical: all ties, decided by id digits (the refinement rounds). */
  @Test
  @Timeout(120)
  void allDuplicates() {
    int n = 50000;
    byte[] codes = new byte[n * 8];
    Arrays.fill(codes, (byte) 0x3c);
    long[] ids = TestData.ids(new SplittableRandom(SEED), n);
    try (CodeTable t = TestData.table(64, 0, codes, ids, null);
        GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
        GpuHashSearch gpu = GpuHashSearch.open(t, new SearchOptions("cuda", 1))) {
      byte[] q = new byte[16];
      for (int k : new int[] {1, 10, 4096, 5000}) {
        ParitySuite.assertSame(oracle.query(q, k), gpu.query(q, k), "duplicates k=" + k);
      }
      // k=10 takes the bounded path, whose lists overflow on an all-tie table: it must have fallen back
      gpu.query(q, 10);
      assertTrue(gpu.lastTimingsMs().getOrDefault("fallback_batches", 0.0) >= 1, gpu.lastTimingsMs().toString());
      ParitySuite.assertSame(oracle.radius(q, 32, 100), gpu.radius(q, 32, 100), "duplicates radius");
    }
  }

  /** Many small batches on the two streams, and a table streamed in shards then merged. */
  @Test
  @Timeout(300)
  void batchesAndShards() {
    int n = 30000;
    SplittableRandom rnd = new SplittableRandom(SEED + 5);
    byte[] codes = TestData.codes(rnd, n, 8);
    long[] ids = TestData.ids(rnd, n);
    byte[] queries = TestData.queries(rnd.split(), codes, n, 37, 8);
    try (CodeTable t = TestData.table(64, 0, codes, ids, null);
        GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
        GpuHashSearch gpu = GpuHashSearch.open(t, new SearchOptions("cuda", 1))) {
      SearchResult e = oracle.query(queries, 25);
      SearchResult er = oracle.radius(queries, 20, 30);
      for (String[] props : new String[][] {{"deephash.cuda.maxBatch", "4"}, {"deephash.cuda.shardRows", "8192"}}) {
        System.setProperty(props[0], props[1]);
        try {
          ParitySuite.assertSame(e, gpu.query(queries, 25), props[0] + "=" + props[1]);
          ParitySuite.assertSame(er, gpu.radius(queries, 20, 30), props[0] + "=" + props[1] + " radius");
        } finally {
          System.clearProperty(props[0]);
        }
      }
      // a delete changes the version: the device copy must be replaced
      t.delete(e.id(0, 0));
      ParitySuite.assertSame(oracle.query(queries, 25), gpu.query(queries, 25), "after a delete");
    }
  }

  static Stream<Arguments> euclideanCases() {
    return Stream.of(Arguments.of(64, 1000, 16), Arguments.of(48, 7, 3), Arguments.of(128, 1, 33),
        Arguments.of(24, 20000, 7), Arguments.of(256, 0, 8), Arguments.of(64, 100003, 128));
  }

  @ParameterizedTest(name = "bits={0} n={1} d={2}")
  @MethodSource("euclideanCases")
  @Timeout(300)
  void euclideanMatchesOracle(int bits, int n, int dim) {
    new ParitySuite("cuda", 2).euclidean(bits, n, dim, SEED + bits + n + dim);
  }

  /** cuBLAS distances against a double-precision reference: relative error norm per query. */
  @Test
  @Timeout(120)
  void cublasDistancesRelativeError() {
    int n = 5000;
    int dim = 256;
    SplittableRandom rnd = new SplittableRandom(SEED + 99);
    byte[] codes = TestData.codes(rnd, n, 8);
    long[] ids = TestData.ids(rnd, n);
    float[] feats = TestData.features(rnd, n, dim);
    int nq = 6;
    byte[] queries = TestData.queries(rnd.split(), codes, n, nq, 8);
    float[] qf = TestData.features(rnd.split(), nq, dim);
    try (CodeTable t = TestData.table(64, dim, codes, ids, feats);
        GpuHashSearch gpu = GpuHashSearch.open(t, new SearchOptions("cuda", 1))) {
      SearchResult r = gpu.coarseToFine(queries, qf, Pool.topM(2000), 500);
      java.util.Map<Long, Integer> rowOf = new java.util.HashMap<>();
      for (int i = 0; i < n; i++) {
        rowOf.put(ids[i], i);
      }
      for (int q = 0; q < nq; q++) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < r.count(q); i++) {
          int row = rowOf.get(r.id(q, i));
          double ref = 0;
          for (int j = 0; j < dim; j++) {
            double d = (double) qf[q * dim + j] - feats[row * dim + j];
            ref += d * d;
          }
          double err = r.distance(q, i) - ref;
          num += err * err;
          den += ref * ref;
        }
        double rel = Math.sqrt(num / den);
        assertTrue(rel < 1e-5, "query " + q + ": relative error norm " + rel);
      }
    }
  }

  /** The radius pool of coarse-to-fine with r = 0 and r = B. */
  @Test
  @Timeout(120)
  void radiusPools() {
    int n = 3000;
    int dim = 12;
    SplittableRandom rnd = new SplittableRandom(SEED + 7);
    byte[] codes = TestData.codes(rnd, n, 16);
    long[] ids = TestData.ids(rnd, n);
    float[] feats = TestData.features(rnd, n, dim);
    byte[] queries = TestData.queries(rnd.split(), codes, n, 5, 16);
    float[] qf = TestData.features(rnd.split(), 5, dim);
    try (CodeTable t = TestData.table(128, dim, codes, ids, feats);
        GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
        GpuHashSearch gpu = GpuHashSearch.open(t, new SearchOptions("cuda", 1))) {
      for (Pool p : new Pool[] {Pool.radius(0, 100), Pool.radius(128, 100), Pool.radius(128, 5000)}) {
        ParitySuite.assertSameFloat(oracle.coarseToFine(queries, qf, p, 10), gpu.coarseToFine(queries, qf, p, 10),
            true, "pool " + p);
      }
      for (int r : new int[] {0, 128}) {
        SearchResult e = oracle.radius(queries, r, n);
        SearchResult a = gpu.radius(queries, r, n);
        ParitySuite.assertSame(e, a, "radius " + r);
        for (int q = 0; q < 5; q++) {
          assertArrayEquals(e.ids(q), a.ids(q));
        }
      }
    }
  }


  /**
   * Batches of 1, 100 and 10,000 queries (the last split into several device batches) on both
   * selection paths, k from 1 to above the bounded path's limit, against the oracle.
   */
  @ParameterizedTest(name = "bits={0}")
  @MethodSource("batchBits")
  @Timeout(600)
  void queryBatches(int bits) {
    int n = 3000;
    int cb = bits / 8;
    SplittableRandom rnd = new SplittableRandom(SEED + 11 * bits);
    byte[] codes = TestData.codes(rnd, n, cb);
    long[] ids = TestData.ids(rnd, n);
    byte[] all = TestData.queries(rnd.split(), codes, n, 10_000, cb);
    try (CodeTable t = TestData.table(bits, 0, codes, ids, null);
        GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
        GpuHashSearch gpu = GpuHashSearch.open(t, new SearchOptions("cuda", 1))) {
      // the oracle ranks every row of every query on one thread: 10,000 queries at two widths only
      int[] batches = bits == 64 || bits == 256 ? new int[] {1, 100, 10_000} : new int[] {1, 100};
      for (int nq : batches) {
        byte[] qs = Arrays.copyOf(all, nq * cb);
        int[] ks = nq == 10_000 ? new int[] {10} : new int[] {1, 10, 100, Plan.BOUND_MAX_K, Plan.BOUND_MAX_K + 1};
        for (int k : ks) {
          SearchResult e = oracle.query(qs, k);
          for (String path : new String[] {"auto", "histogram"}) {
            System.setProperty(Plan.SELECTION_PROPERTY, path);
            try {
              ParitySuite.assertSame(e, gpu.query(qs, k), "bits=" + bits + " queries=" + nq + " k=" + k + " " + path);
              boolean bounded = gpu.lastTimingsMs().getOrDefault("bounded_batches", 0.0) > 0;
              assertEquals(path.equals("auto") && k <= Plan.BOUND_MAX_K, bounded,
                  "selection path for k=" + k + " " + path + ": " + gpu.lastTimingsMs());
            } finally {
              System.clearProperty(Plan.SELECTION_PROPERTY);
            }
          }
        }
      }
    }
  }

  static Stream<Integer> batchBits() {
    return Stream.of(64, 128, 256, 200);
  }
}
