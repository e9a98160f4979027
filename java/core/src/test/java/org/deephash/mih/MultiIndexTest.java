package org.deephash.mih;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;
import org.deephash.spi.Queries;
import org.deephash.testing.ParitySuite;
import org.deephash.testing.TestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Multi-index hashing against the scalar oracle: radius and k-NN, every table count, deletes, tails. */
class MultiIndexTest {
  private static final long SEED = Long.getLong("test.seed", 20261204L);

  /** Queries near table rows: a copy of a row with {@code flips} random bits flipped, half of them. */
  static byte[] planted(SplittableRandom rnd, byte[] codes, int n, int nq, int cb, int flips) {
    byte[] q = TestData.queries(rnd, codes, n, nq, cb);
    for (int i = 0; i < nq; i += 2) {
      if (n > 0) {
        System.arraycopy(codes, rnd.nextInt(n) * cb, q, i * cb, cb);
        for (int f = 0; f < flips; f++) {
          int bit = rnd.nextInt(cb * 8);
          q[i * cb + bit / 8] ^= (byte) (1 << (bit % 8));
        }
      }
    }
    return q;
  }

  static Queries queries(Arena a, byte[] q, int cb) {
    MemorySegment s = a.allocate(q.length + 64L, 64);
    MemorySegment.copy(q, 0, s, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, q.length);
    return new Queries(q.length / cb, s, MemorySegment.NULL);
  }

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (int bits : new int[] {8, 24, 64, 72, 128, 256}) {
      for (int m : new int[] {0, 1, 2, 3, 5}) {
        if ((bits + 63) / 64 <= Math.max(m, 1) || m == 0) {
          out.add(Arguments.of(bits, m, 3000));
        }
      }
    }
    out.add(Arguments.of(64, 4, 20000));
    out.add(Arguments.of(64, 0, 1));
    out.add(Arguments.of(128, 0, 7));
    return out.stream();
  }

  @ParameterizedTest(name = "bits={0} m={1} n={2}")
  @MethodSource("cases")
  void matchesTheOracle(int bits, int m, int n) {
    long seed = SEED + bits * 31L + m * 7L + n;
    String ctx = "bits=" + bits + " m=" + m + " n=" + n + " seed=" + seed;
    SplittableRandom rnd = new SplittableRandom(seed);
    int cb = bits / 8;
    byte[] codes = TestData.codes(rnd, n, cb);
    long[] ids = TestData.ids(rnd, n);
    int nq = 12;
    byte[] qc = planted(rnd.split(), codes, n, nq, cb, Math.max(1, bits / 32));
    try (CodeTable t = TestData.table(bits, 0, codes, ids, null);
        GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
        Arena a = Arena.ofShared()) {
      Queries q = queries(a, qc, cb);
      for (int pass = 0; pass < 2; pass++) {
        String when = ctx + (pass == 0 ? "" : " after deletes");
        try (CodeTable.LockedView v = t.view(); MultiIndex mih = MultiIndex.build(v.get(), m)) {
          for (int r : new int[] {0, 1, 2, 3, bits / 8, bits / 4}) {
            for (int cap : new int[] {1, 5, n + 1}) {
              ParitySuite.assertSame(oracle.radius(qc, r, cap), mih.radius(v.get(), q, r, cap),
                  when + " radius=" + r + " cap=" + cap);
            }
          }
          for (int k : new int[] {1, 3, 10, n + 2}) {
            SearchResult got = mih.knn(v.get(), q, k).result();
            ParitySuite.assertSame(oracle.query(qc, k), got, when + " k=" + k);
          }
        }
        if (pass == 0) {
          // delete a quarter of the rows, some of them the queries' nearest
          for (int i = 0; i < n / 4; i++) {
            t.delete(ids[rnd.nextInt(n)]);
          }
        }
      }
    }
  }

  @Test
  void rowsAddedAfterTheBuildAreFound() {
    int n = 2000;
    int cb = 8;
    SplittableRandom rnd = new SplittableRandom(SEED);
    byte[] codes = TestData.codes(rnd, 2 * n, cb);
    long[] ids = TestData.ids(rnd, 2 * n);
    byte[] qc = planted(rnd.split(), codes, 2 * n, 10, cb, 2);
    try (CodeTable t = CodeTable.create(64, 0, false, 2 * n); Arena a = Arena.ofShared()) {
      t.addAll(java.util.Arrays.copyOf(ids, n), java.util.Arrays.copyOf(codes, n * cb), null, null);
      MultiIndex mih;
      try (CodeTable.LockedView v = t.view()) {
        mih = MultiIndex.build(v.get(), 0);
      }
      try (mih; GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1))) {
        t.addAll(java.util.Arrays.copyOfRange(ids, n, 2 * n), java.util.Arrays.copyOfRange(codes, n * cb, 2 * n * cb),
            null, null);
        t.delete(ids[n + 1]);
        try (CodeTable.LockedView v = t.view()) {
          assertTrue(mih.fits(v.get()));
          assertEquals(n, mih.rows());
          Queries q = queries(a, qc, cb);
          for (int r : new int[] {0, 2, 9}) {
            ParitySuite.assertSame(oracle.radius(qc, r, 50), mih.radius(v.get(), q, r, 50), "tail radius=" + r);
          }
          ParitySuite.assertSame(oracle.query(qc, 7), mih.knn(v.get(), q, 7).result(), "tail k=7");
        }
      }
    }
  }

  /** Every code within r shares a substring within its table's radius (the pigeonhole bound). */
  @Test
  void radiiCoverEveryCodeWithinR() {
    SplittableRandom rnd = new SplittableRandom(SEED + 1);
    for (int bits : new int[] {16, 64, 72, 128}) {
      for (int m = (bits + 63) / 64; m <= 6; m++) {
        MultiIndex.Layout l = MultiIndex.layout(bits, 1 << 16, m);
        for (int r = 0; r <= bits / 2; r++) {
          int[] radii = radii(l, r);
          for (int trial = 0; trial < 200; trial++) {
            // a random difference of weight exactly r
            long[] x = new long[MultiIndex.wordsOf(bits) + 1];
            Set<Integer> flipped = new HashSet<>();
            while (flipped.size() < r) {
              flipped.add(rnd.nextInt(bits));
            }
            for (int b : flipped) {
              x[b >>> 6] |= 1L << b;
            }
            boolean covered = false;
            for (int i = 0; i < m; i++) {
              covered |= l.distance(i, x) <= radii[i];
            }
            assertTrue(covered, "bits=" + bits + " m=" + m + " r=" + r + " flips=" + flipped);
          }
          // and the bound is tight: a difference spread to r_i + 1 in every table has weight r + 1
          int weight = 0;
          for (int i = 0; i < m; i++) {
            weight += Math.min(l.length()[i], radii[i] + 1);
          }
          assertTrue(weight >= r + 1 || weight == bits, "radii wider than needed at r=" + r);
        }
      }
    }
  }

  private static int[] radii(MultiIndex.Layout l, int r) {
    int m = l.tables();
    int[] out = new int[m];
    for (int i = 0; i < m; i++) {
      out[i] = Math.min(l.length()[i], i <= r % m ? r / m : r / m - 1);
    }
    return out;
  }

  @Test
  void layoutFollowsNorouziAndRespectsLimits() {
    MultiIndex.Layout l = MultiIndex.layout(64, 10_000_000, 0);
    assertEquals(3, l.tables(), "B / log2(N) = 64 / 24");
    assertEquals(64, java.util.Arrays.stream(l.length()).sum());
    for (int rows : new int[] {10, 1 << 20, Integer.MAX_VALUE}) {
      assertTrue(MultiIndex.layout(256, rows, 0).tables() >= 4, "256 bits need at least 4 tables of 64 bits");
    }
    assertEquals(4, MultiIndex.layout(64, 1000, 4).tables());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MultiIndex.layout(256, 1000, 3));
    assertTrue(e.getMessage().contains("4 to 64"), e.getMessage());
  }

  /** A query far from every code: growing the radius would cost more than a scan, so it scans. */
  @Test
  void farQueryIsFinishedByAScan() {
    int n = 5000;
    SplittableRandom rnd = new SplittableRandom(SEED + 2);
    byte[] codes = new byte[n * 8];
    rnd.nextBytes(codes);
    byte[] qc = new byte[16];
    rnd.nextBytes(qc);
    System.arraycopy(codes, 8 * 17, qc, 8, 8); // the second query is a table row: found by probing
    try (CodeTable t = TestData.table(64, 0, codes, TestData.ids(rnd, n), null);
        GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
        CodeTable.LockedView v = t.view();
        MultiIndex mih = MultiIndex.build(v.get(), 4);
        Arena a = Arena.ofShared()) {
      MultiIndex.Knn got = mih.knn(v.get(), queries(a, qc, 8), 1);
      assertEquals(1, got.scanned(), "the random query scans, the copied row does not");
      ParitySuite.assertSame(oracle.query(qc, 1), got.result(), "k=1");
      assertTrue(mih.radiusCostRatio(v.get(), 0) < 1, "radius 0 probes 4 keys: cheaper than a scan");
      assertTrue(mih.radiusCostRatio(v.get(), 32) > 1, "radius 32 would probe more than a scan reads");
    }
  }

  @Test
  void memoryPerCodeIsBounded() {
    int n = 1 << 16;
    SplittableRandom rnd = new SplittableRandom(SEED + 3);
    byte[] codes = new byte[n * 8];
    rnd.nextBytes(codes);
    try (CodeTable t = TestData.table(64, 0, codes, TestData.ids(rnd, n), null);
        CodeTable.LockedView v = t.view();
        MultiIndex mih = MultiIndex.build(v.get(), 0)) {
      double perCode = (double) mih.bytes() / n;
      assertTrue(perCode <= 21, "bytes per code " + perCode);
    }
  }
}
