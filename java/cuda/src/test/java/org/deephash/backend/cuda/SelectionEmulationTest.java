package org.deephash.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;
import org.deephash.testing.TestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The GPU selection algorithm (ported to Java by {@link KernelEmulator}) against the scalar oracle:
 * exact distances, ties by ascending id, radius totals. Small blocks and sort capacities push every
 * path: many blocks per query, id-digit refinement, and lists ordered on the host.
 */
class SelectionEmulationTest {
  private static final long SEED = Long.getLong("test.seed", 20261123L);

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (int bits : new int[] {8, 24, 48, 64, 72, 128, 200, 256, 1024}) {
      for (int n : new int[] {0, 1, 7, 1000}) {
        out.add(Arguments.of(bits, n, 4096, 4096));
        out.add(Arguments.of(bits, n, 64, 16));
      }
    }
    out.add(Arguments.of(64, 5003, 512, 8));
    out.add(Arguments.of(8, 5003, 4096, 4096));
    return out.stream();
  }

  @ParameterizedTest(name = "bits={0} n={1} rowsPerBlock={2} sortMax={3}")
  @MethodSource("cases")
  @Timeout(120)
  void matchesOracle(int bits, int n, int rowsPerBlock, int sortMax) {
    long seed = SEED + bits * 131L + n * 7L + sortMax;
    String ctx = "bits=" + bits + " n=" + n + " rowsPerBlock=" + rowsPerBlock + " sortMax=" + sortMax + " seed=" + seed;
    SplittableRandom rnd = new SplittableRandom(seed);
    int cb = bits / 8;
    byte[] codes = TestData.codes(rnd, n, cb);
    long[] ids = TestData.ids(rnd, n);
    int nq = 4;
    byte[] queries = TestData.queries(rnd.split(), codes, n, nq, cb);
    try (CodeTable t = TestData.table(bits, 0, codes, ids, null);
        GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1))) {
      check(t, oracle, queries, nq, cb, bits, rowsPerBlock, sortMax, seed, n, ctx);
      if (n > 0) {
        for (int i = 0; i < Math.max(1, n / 7); i++) {
          t.delete(ids[rnd.nextInt(n)]);
        }
        check(t, oracle, queries, nq, cb, bits, rowsPerBlock, sortMax, seed, n, ctx + " after deletes");
      }
    }
  }

  private static void check(CodeTable t, GpuHashSearch oracle, byte[] queries, int nq, int cb, int bits,
      int rowsPerBlock, int sortMax, long seed, int n, String ctx) {
    KernelEmulator emu;
    try (CodeTable.LockedView v = t.view()) {
      emu = new KernelEmulator(v.get(), rowsPerBlock, sortMax, seed);
    }
    for (int k : new int[] {1, 10, n, n + 5, 4096}) {
      if (k < 1) {
        continue;
      }
      SearchResult e = oracle.query(queries, k);
      for (int q = 0; q < nq; q++) {
        KernelEmulator.Answer a = emu.select(KernelEmulator.queryWords(queries, q, cb, emu.words), k, bits);
        assertList(e, q, a, ctx + " k=" + k);
      }
    }
    for (int r : new int[] {0, bits / 2 - 3, bits}) {
      if (r < 0) {
        continue;
      }
      for (int cap : new int[] {1, 10, Math.max(1, n)}) {
        SearchResult e = oracle.radius(queries, r, cap);
        for (int q = 0; q < nq; q++) {
          KernelEmulator.Answer a = emu.select(KernelEmulator.queryWords(queries, q, cb, emu.words), cap, r);
          assertList(e, q, a, ctx + " radius=" + r + " cap=" + cap);
          assertEquals(e.truncated(q), a.total() > cap, ctx + " radius=" + r + " cap=" + cap + ": truncated flag");
        }
      }
    }
  }

  private static void assertList(SearchResult e, int q, KernelEmulator.Answer a, String ctx) {
    int m = a.entries().size();
    int[] dist = new int[m];
    long[] id = new long[m];
    for (int i = 0; i < m; i++) {
      dist[i] = (int) a.entries().get(i)[0];
      id[i] = a.entries().get(i)[1];
    }
    assertArrayEquals(e.hammings(q), dist, ctx + ": distances of query " + q);
    assertArrayEquals(e.ids(q), id, ctx + ": ids of query " + q + " (ties by ascending id)");
  }

  /** Every row the same code: all distances tie, so the id digits decide everything. */
  @Test
  void allDuplicatesRefineIdDigits() {
    int n = 3000;
    int bits = 64;
    SplittableRandom rnd = new SplittableRandom(SEED);
    byte[] codes = new byte[n * 8];
    for (int i = 0; i < n; i++) {
      codes[i * 8 + 3] = 0x5a;
    }
    long[] ids = TestData.ids(rnd, n);
    byte[] query = new byte[8];
    try (CodeTable t = TestData.table(bits, 0, codes, ids, null);
        GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
        CodeTable.LockedView v = t.view()) {
      KernelEmulator emu = new KernelEmulator(v.get(), 256, 16, SEED);
      for (int k : new int[] {1, 5, 16, 17, 1000, n}) {
        SearchResult e = oracle.query(query, k);
        KernelEmulator.Answer a = emu.select(KernelEmulator.queryWords(query, 0, 8, 1), k, bits);
        assertList(e, 0, a, "duplicates k=" + k);
      }
      assertTrue(emu.maxRounds >= 1, "the duplicate table must exercise the id-digit refinement");
    }
  }

  /** Ids that share their high bytes and differ only in the lowest: refinement runs to the last digit. */
  @Test
  void idsDifferingInTheLowestByteOnly() {
    int n = 200;
    byte[] codes = new byte[n];
    long[] ids = new long[n];
    for (int i = 0; i < n; i++) {
      ids[i] = 0x7f00_0000_0000_0000L | (i * 37L % 256);
      if (i >= 256) {
        throw new AssertionError();
      }
    }
    // distinct low bytes for i < 200 since 37 is invertible mod 256
    try (CodeTable t = TestData.table(8, 0, codes, ids, null);
        GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
        CodeTable.LockedView v = t.view()) {
      KernelEmulator emu = new KernelEmulator(v.get(), 64, 4, SEED);
      SearchResult e = oracle.query(new byte[1], 3);
      assertList(e, 0, emu.select(new long[] {0}, 3, 8), "low-byte ids");
      assertEquals(8, emu.lastRounds, "all eight id digits refined");
    }
  }

  static Stream<Arguments> boundedCases() {
    List<Arguments> out = new ArrayList<>();
    for (int bits : new int[] {8, 24, 64, 72, 128, 256, 1024}) {
      for (int n : new int[] {1, 7, 1000, 9000}) {
        out.add(Arguments.of(bits, n));
      }
    }
    return out.stream();
  }

  /**
   * The bounded path (sample bound, filter, threshold, sort) against the oracle: Plan's sizes,
   * then tiny filter lists and sort buffers that overflow and must fall back exactly.
   */
  @ParameterizedTest(name = "bits={0} n={1}")
  @MethodSource("boundedCases")
  @Timeout(120)
  void boundedPathMatchesOracle(int bits, int n) {
    long seed = SEED + bits * 17L + n;
    String ctx = "bits=" + bits + " n=" + n + " seed=" + seed;
    SplittableRandom rnd = new SplittableRandom(seed);
    int cb = bits / 8;
    byte[] codes = TestData.codes(rnd, n, cb);
    long[] ids = TestData.ids(rnd, n);
    int nq = 3;
    byte[] queries = TestData.queries(rnd.split(), codes, n, nq, cb);
    try (CodeTable t = TestData.table(bits, 0, codes, ids, null);
        GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1))) {
      for (int pass = 0; pass < 2; pass++) {
        KernelEmulator emu;
        try (CodeTable.LockedView v = t.view()) {
          emu = new KernelEmulator(v.get(), 512, 64, seed);
        }
        for (int k : new int[] {1, 10, 100, Plan.BOUND_MAX_K}) {
          SearchResult e = oracle.query(queries, k);
          int planCap = Plan.filterCap(k);
          int planStride = Math.max(1, Plan.sampleStride(n, k, planCap) * Plan.ROWS_PER_BLOCK / 512);
          int[][] sizes = {{planCap, planStride}, {Math.max(k, 8), 3}, {k, 1}};
          for (int[] size : sizes) {
            for (int q = 0; q < nq; q++) {
              KernelEmulator.Answer a = emu.selectBounded(KernelEmulator.queryWords(queries, q, cb, emu.words), k,
                  size[0], size[1]);
              assertList(e, q, a, ctx + (pass == 1 ? " after deletes" : "") + " k=" + k + " cap=" + size[0]
                  + " sampleStride=" + size[1]);
            }
          }
        }
        for (int i = 0; i < Math.max(1, n / 5); i++) {
          t.delete(ids[rnd.nextInt(n)]);
        }
      }
    }
  }

  /**
   * Plan's sample and filter sizes never overflow on random codes of a realistic size, so the
   * bounded path does not silently degrade into the histogram path it falls back to.
   */
  @Test
  @Timeout(300)
  void planSizesDoNotOverflowOnRandomCodes() {
    int n = 300_000;
    for (int bits : new int[] {64, 128, 256}) {
      SplittableRandom rnd = new SplittableRandom(SEED + bits);
      int cb = bits / 8;
      byte[] codes = TestData.codes(rnd, n, cb);
      long[] ids = TestData.ids(rnd, n);
      byte[] queries = new byte[2 * cb];
      rnd.nextBytes(queries); // independent of the table: the worst case for the sample's bound
      try (CodeTable t = TestData.table(bits, 0, codes, ids, null);
          CodeTable.LockedView v = t.view()) {
        KernelEmulator emu = new KernelEmulator(v.get(), Plan.ROWS_PER_BLOCK, Plan.SORT_MAX, SEED);
        for (int k : new int[] {1, 10, 100, 1000}) {
          int cap = Plan.filterCap(k);
          int stride = Plan.sampleStride(n, k, cap);
          for (int q = 0; q < 2; q++) {
            KernelEmulator.Answer a = emu.selectBounded(KernelEmulator.queryWords(queries, q, cb, emu.words), k, cap,
                stride);
            assertEquals(k, a.entries().size(), "bits=" + bits + " k=" + k);
          }
          assertEquals(0, emu.fallbacks, "bits=" + bits + " k=" + k + ": the bounded path overflowed and fell back");
        }
      }
    }
  }

  @Test
  void boundedPathAppliesToTopKOnly() {
    assertTrue(Plan.bounded(10, 64, 64, null));
    assertTrue(Plan.bounded(Plan.BOUND_MAX_K, 256, 256, "auto"));
    assertEquals(false, Plan.bounded(Plan.BOUND_MAX_K + 1, 64, 64, null), "large k: histogram path");
    assertEquals(false, Plan.bounded(10, 20, 64, null), "radius: histogram path");
    assertEquals(false, Plan.bounded(10, 64, 64, "histogram"), "forced histogram path");
    org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> Plan.bounded(10, 64, 64, "fast"));
  }

  @Test
  void sampleSpreadsOverTheTable() {
    // 1M rows = 245 chunks; k=10 samples 4 evenly spaced chunks at least, k=1000 about a quarter
    assertEquals(61, Plan.sampleStride(1_000_000, 10, Plan.filterCap(10)));
    assertEquals(5, Plan.sampleChunks(1_000_000, 61));
    assertEquals(3, Plan.sampleStride(1_000_000, 1000, Plan.filterCap(1000)));
    assertEquals(1, Plan.sampleStride(5000, 10, Plan.filterCap(10)), "small tables are sampled whole");
    assertEquals(4096, Plan.filterCap(1));
    assertEquals(16000, Plan.filterCap(1000));
  }
}
