package org.deephash.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.ResultComparison;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;
import org.deephash.internal.Rerank;

/**
 * The parity suite: one backend against the scalar oracle. Hamming distances and id order must
 * be exactly equal; squared Euclidean distances must agree to float rounding, with ids equal
 * except where two distances are equal to rounding. Used by every backend's tests (the CUDA
 * module's GPU tests too), so a new backend is tested by the same cases.
 */
public final class ParitySuite {
  public static final int[] BITS = {8, 24, 48, 64, 72, 128, 200, 256, 1024};
  public static final int[] SIZES = {0, 1, 7, 1000, 100003};

  private final String backend;
  private final int threads;
  private final boolean exactEuclidean;

  public ParitySuite(String backend, int threads) {
    this(backend, threads, false);
  }

  private ParitySuite(String backend, int threads, boolean exactEuclidean) {
    this.backend = backend;
    this.threads = threads;
    this.exactEuclidean = exactEuclidean;
  }

  /**
   * The same suite demanding the oracle's Euclidean distances bit for bit (and so its ids in its
   * order): for backends that rank by the reference sum (java, native). Others (cuBLAS) may round.
   */
  public ParitySuite exactEuclidean() {
    return new ParitySuite(backend, threads, true);
  }

  /**
   * A search of {@code name}; a name ending in {@value #MIH} is that backend with the table's
   * multi-index tables forced for the Hamming stage (the tables are built here first).
   */
  private GpuHashSearch open(CodeTable t, String name) {
    if (name.endsWith(MIH)) {
      t.buildMultiIndex(0);
      return GpuHashSearch.open(t, new SearchOptions(name.substring(0, name.length() - MIH.length()), threads, "mih"));
    }
    return GpuHashSearch.open(t, new SearchOptions(name, name.equals("scalar") ? 1 : threads));
  }

  /** The suffix of a backend name that forces the multi-index tables. */
  public static final String MIH = "+mih";

  /** Top-k, radius and tombstones for one width and size; every k of the issue. */
  public void hamming(int bits, int n, long seed) {
    hamming(bits, n, seed, false);
  }

  /**
   * The same with ascending ids when {@code ascendingIds} (backends then order ties by row without
   * reading ids: the common case of ids numbered as rows are added).
   */
  public void hamming(int bits, int n, long seed, boolean ascendingIds) {
    String ctx = backend + " bits=" + bits + " n=" + n + " seed=" + seed + (ascendingIds ? " ascending ids" : "");
    SplittableRandom rnd = new SplittableRandom(seed);
    int cb = bits / 8;
    byte[] codes = TestData.codes(rnd, n, cb);
    long[] ids = TestData.ids(rnd, n);
    if (ascendingIds) {
      java.util.Arrays.sort(ids);
    }
    int nq = n > 10000 ? 3 : 9;
    byte[] queries = TestData.queries(rnd.split(), codes, n, nq, cb);
    try (CodeTable t = TestData.table(bits, 0, codes, ids, null);
        GpuHashSearch oracle = open(t, "scalar");
        GpuHashSearch fast = open(t, backend)) {
      // The oracle's full ranking; every top-k is a prefix of it by definition of the contract.
      SearchResult full = oracle.query(queries, Math.max(1, n));
      // 1000 on a large table: the sampled starting threshold of a large k
      for (int k : new int[] {1, 10, n > 2000 ? 1000 : 0, n, n + 5}) {
        if (k < 1) {
          continue;
        }
        assertPrefix(full, fast.query(queries, k), k, ctx + " k=" + k);
      }
      for (int r : new int[] {0, bits / 2 - 3, bits}) {
        if (r < 0) {
          continue;
        }
        // 1000 on a large table: a cap large enough for the sampled threshold (at r = B)
        for (int cap : new int[] {1, 10, n > 2000 ? 1000 : 1, Math.max(1, n)}) {
          assertSame(oracle.radius(queries, r, cap), fast.radius(queries, r, cap),
              ctx + " radius=" + r + " cap=" + cap);
        }
      }
      if (n == 1000) {
        copiesOfTheQuery(bits, seed);
      }
      // a batch whose tasks hold whole blocks of 8 queries (the vector kernels' widest block)
      byte[] batch = TestData.queries(rnd.split(), codes, n, 16 * threads + 5, cb);
      for (int k : new int[] {10, n > 2000 ? 1000 : Math.max(1, n)}) {
        assertSame(oracle.query(batch, k), fast.query(batch, k), ctx + " batch k=" + k);
      }
      if (n > 0) {
        // delete the current best answers and a random tenth of the rows
        for (int q = 0; q < full.queryCount(); q++) {
          t.delete(full.id(q, 0));
        }
        for (int i = 0; i < n / 10; i++) {
          t.delete(ids[rnd.nextInt(n)]);
        }
        SearchResult after = oracle.query(queries, 10);
        assertSame(after, fast.query(queries, 10), ctx + " after deletes");
        for (int q = 0; q < after.queryCount(); q++) {
          for (int i = 0; i < after.count(q); i++) {
            assertTrue(t.contains(after.id(q, i)), ctx + ": a deleted id was returned");
          }
        }
        assertSame(oracle.radius(queries, bits / 2, 50), fast.radius(queries, bits / 2, 50), ctx + " radius after deletes");
      }
    }
  }

  /**
   * A third of the rows are copies of the first query, ids numbered as rows: every k below has more
   * than k rows at distance 0, so the selection's threshold reaches 0 with more than k within it and
   * rows at 0 keep coming (then only a full buffer may cut it).
   */
  private void copiesOfTheQuery(int bits, long seed) {
    int n = 3000;
    int cb = bits / 8;
    SplittableRandom rnd = new SplittableRandom(seed);
    byte[] codes = TestData.codes(rnd, n, cb);
    byte[] queries = TestData.queries(rnd.split(), codes, n, 9, cb);
    long[] ids = new long[n];
    for (int i = 0; i < n; i++) {
      ids[i] = i;
      if (i % 3 == 0) {
        System.arraycopy(queries, 0, codes, i * cb, cb);
      }
    }
    String ctx = backend + " bits=" + bits + " copies of the query";
    try (CodeTable t = TestData.table(bits, 0, codes, ids, null);
        GpuHashSearch oracle = open(t, "scalar");
        GpuHashSearch fast = open(t, backend)) {
      SearchResult full = oracle.query(queries, n);
      long zeros = java.util.stream.IntStream.of(full.hammings(0)).filter(d -> d == 0).count();
      assertTrue(zeros >= n / 3, ctx + ": " + zeros + " rows at distance 0");
      for (int k : new int[] {1, 10, 500, 2 * n / 3, n}) {
        assertPrefix(full, fast.query(queries, k), k, ctx + " k=" + k);
      }
      for (int cap : new int[] {1, 10, n}) {
        assertSame(oracle.radius(queries, 0, cap), fast.radius(queries, 0, cap), ctx + " radius=0 cap=" + cap);
      }
    }
  }

  /**
   * Coarse-to-fine (top-m and radius pools) and exhaustive Euclidean search: a few queries (split by
   * rows too) and a batch of 4 per thread and one (split by queries only, the pool written straight
   * into the result).
   */
  public void euclidean(int bits, int n, int dim, long seed) {
    String ctx = backend + " bits=" + bits + " n=" + n + " d=" + dim + " seed=" + seed;
    SplittableRandom rnd = new SplittableRandom(seed);
    int cb = bits / 8;
    byte[] codes = TestData.codes(rnd, n, cb);
    long[] ids = TestData.ids(rnd, n);
    float[] feats = TestData.features(rnd, n, dim);
    try (CodeTable t = TestData.table(bits, dim, codes, ids, feats);
        GpuHashSearch oracle = open(t, "scalar");
        GpuHashSearch fast = open(t, backend)) {
      for (int nq : new int[] {5, 4 * threads + 1}) {
        SplittableRandom qr = rnd.split();
        byte[] queries = TestData.queries(qr, codes, n, nq, cb);
        float[] qf = TestData.features(qr, nq, dim);
        String at = ctx + " nq=" + nq;
        for (int k : new int[] {1, 10, n + 5}) {
          for (Pool pool : new Pool[] {Pool.topM(1), Pool.topM(100), Pool.topM(n + 5), Pool.radius(bits / 2, 50),
              Pool.radius(0, 10)}) {
            SearchResult e = oracle.coarseToFine(queries, qf, pool, k);
            SearchResult a = fast.coarseToFine(queries, qf, pool, k);
            check(e, a, true, at + " k=" + k + " pool=" + pool);
          }
          check(oracle.exhaustive(qf, k), fast.exhaustive(qf, k), false, at + " exhaustive k=" + k);
        }
      }
    }
  }

  /**
   * Coarse-to-fine pools that end inside a distance many rows share, ids ascending with the rows
   * (the selections' counted mode): the codes differ in their low byte only, so distances run
   * 0..8 and the last distance of a pool is held by thousands of rows, of which the pool must keep
   * the first (the smallest ids). With k = m the answer is the whole pool: one wrong row in it
   * fails. A few queries, and a batch (split by queries only: the pools written straight out).
   */
  public void tiedPools(long seed) {
    String ctx = backend + " tied pools seed=" + seed;
    SplittableRandom rnd = new SplittableRandom(seed);
    int n = 40_000;
    int dim = 8;
    byte[] codes = new byte[n * 8];
    for (int r = 0; r < n; r++) {
      codes[r * 8] = (byte) rnd.nextInt(256);
    }
    float[] feats = TestData.features(rnd, n, dim);
    try (CodeTable t = CodeTable.create(64, dim, false, n);
        GpuHashSearch oracle = open(t, "scalar");
        GpuHashSearch fast = open(t, backend)) {
      t.addAll(null, codes, feats, null);
      for (int nq : new int[] {3, 4 * threads + 1}) {
        byte[] q = new byte[nq * 8];
        for (int j = 0; j < nq; j++) {
          q[j * 8] = (byte) rnd.nextInt(256);
        }
        float[] qf = TestData.features(rnd, nq, dim);
        for (int m : new int[] {500, 5000}) {
          check(oracle.coarseToFine(q, qf, Pool.topM(m), m), fast.coarseToFine(q, qf, Pool.topM(m), m), true,
              ctx + " nq=" + nq + " m=k=" + m);
        }
      }
    }
  }

  /**
   * The fine stage with ({@code sq8}) and without the 8-bit copy of the features
   * ({@code engine.rerank.sq8}), and the copy extended when rows are added after the first search:
   * a batch of 40 queries (the first pass split by rows, pools of 3000) and small pools (in pool
   * order). Then rows whose range overflows float (infinite bounds) and a query of zeros.
   */
  public void eightBitCopy(boolean sq8, long seed) {
    String old = System.getProperty(Rerank.SQ8_PROPERTY);
    System.setProperty(Rerank.SQ8_PROPERTY, Boolean.toString(sq8));
    try {
      SplittableRandom rnd = new SplittableRandom(seed);
      int n = 30_000;
      int dim = 24;
      byte[] codes = TestData.codes(rnd, 2 * n, 4);
      long[] ids = TestData.ids(rnd, 2 * n);
      float[] feats = TestData.features(rnd, 2 * n, dim);
      for (int r = 0; r < 50; r++) { // huge values: the 8-bit step overflows, the norms leave float's range
        feats[(n + r) * dim] = r % 2 == 0 ? 3e38f : -3e38f;
        feats[(n + r) * dim + 1] = r % 3 == 0 ? -3e38f : 1e19f;
      }
      byte[] q = TestData.queries(rnd, codes, n, 40, 4);
      float[] qf = TestData.features(rnd, 40, dim);
      java.util.Arrays.fill(qf, 0, dim, 0f); // a query of zeros: 2 ||q|| = 0 against infinite bounds
      try (CodeTable t = TestData.table(32, dim, java.util.Arrays.copyOf(codes, 4 * n),
              java.util.Arrays.copyOf(ids, n), java.util.Arrays.copyOf(feats, n * dim));
          GpuHashSearch oracle = open(t, "scalar");
          GpuHashSearch fast = open(t, backend)) {
        for (int round = 0; round < 2; round++) {
          for (Pool pool : new Pool[] {Pool.topM(3000), Pool.topM(20), Pool.topM(2 * n)}) {
            assertExactFloat(oracle.coarseToFine(q, qf, pool, 10), fast.coarseToFine(q, qf, pool, 10), true,
                backend + " sq8=" + sq8 + " round " + round + " pool " + pool);
          }
          if (round == 0) {
            t.addAll(java.util.Arrays.copyOfRange(ids, n, 2 * n), java.util.Arrays.copyOfRange(codes, 4 * n, 8 * n),
                java.util.Arrays.copyOfRange(feats, n * dim, 2 * n * dim), null);
          }
        }
      }
    } finally {
      if (old == null) {
        System.clearProperty(Rerank.SQ8_PROPERTY);
      } else {
        System.setProperty(Rerank.SQ8_PROPERTY, old);
      }
    }
  }

  private void check(SearchResult e, SearchResult a, boolean hamming, String ctx) {
    if (exactEuclidean) {
      assertExactFloat(e, a, hamming, ctx);
    } else {
      assertSameFloat(e, a, hamming, ctx);
    }
  }

  /** Bitwise equality of Euclidean results: distances, ids in order, and Hamming distances. */
  public static void assertExactFloat(SearchResult e, SearchResult a, boolean hamming, String ctx) {
    assertEquals(e.queryCount(), a.queryCount(), ctx);
    for (int q = 0; q < e.queryCount(); q++) {
      assertEquals(e.count(q), a.count(q), ctx + ": result count of query " + q);
      float[] ed = e.distances(q);
      float[] ad = a.distances(q);
      for (int i = 0; i < ed.length; i++) {
        assertEquals(Float.floatToRawIntBits(ed[i]), Float.floatToRawIntBits(ad[i]),
            ctx + ": distance " + ad[i] + " != " + ed[i] + " at rank " + i + " of query " + q);
      }
      assertArrayEquals(e.ids(q), a.ids(q), ctx + ": ids of query " + q + " (ties must be by ascending id)");
      if (hamming) {
        assertArrayEquals(e.hammings(q), a.hammings(q), ctx + ": Hamming distances of query " + q);
      }
    }
  }

  /** Exact equality of two Hamming results (ids, distances, truncation flags): {@link ResultComparison#exact()}. */
  public static void assertSame(SearchResult e, SearchResult a, String ctx) {
    List<String> d = ResultComparison.exact().differences(e, a);
    assertTrue(d.isEmpty(), () -> ctx + ": " + String.join("; ", d));
  }

  /** {@code a} is the first {@code k} results of {@code full} for every query. */
  private static void assertPrefix(SearchResult full, SearchResult a, int k, String ctx) {
    int[] offsets = new int[full.queryCount() + 1];
    for (int q = 0; q < full.queryCount(); q++) {
      offsets[q + 1] = offsets[q] + Math.min(k, full.count(q));
    }
    long[] ids = new long[offsets[full.queryCount()]];
    int[] hamming = new int[ids.length];
    for (int q = 0; q < full.queryCount(); q++) {
      int n = offsets[q + 1] - offsets[q];
      System.arraycopy(full.ids(q), 0, ids, offsets[q], n);
      System.arraycopy(full.hammings(q), 0, hamming, offsets[q], n);
    }
    assertSame(SearchResult.of(offsets, ids, hamming, null, null), a, ctx);
  }

  /**
   * Equality up to float rounding ({@link ResultComparison#euclidean}, relative 1e-5): same counts,
   * ids equal except among near-equal distances, Hamming distances equal where the ids are.
   */
  public static void assertSameFloat(SearchResult e, SearchResult a, boolean hamming, String ctx) {
    List<String> d = ResultComparison.euclidean(1e-5).differences(e, a);
    assertTrue(d.isEmpty(), () -> ctx + ": " + String.join("; ", d));
    if (hamming) {
      assertTrue(a.hasHamming(), ctx + ": a coarse-to-fine result without its Hamming distances");
    }
  }
}
