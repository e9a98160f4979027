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
}
