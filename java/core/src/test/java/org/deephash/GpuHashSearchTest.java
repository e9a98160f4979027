package org.deephash;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Validation at the API boundary and golden answers on a hand-made table. */
class GpuHashSearchTest {

  private static CodeTable small() {
    CodeTable t = CodeTable.create(16, 2, false);
    // ids deliberately out of row order
    t.addAll(new long[] {30, 10, 20, 40},
        new byte[] {0, 0, /**/ 3, 0, /**/ 1, 0, /**/ (byte) 0xFF, (byte) 0xFF},
        new float[] {0, 0, /**/ 5, 5, /**/ 1, 1, /**/ 0.5f, 0},
        null);
    return t;
  }

  @Test
  void goldenAnswers() {
    try (CodeTable t = small(); GpuHashSearch s = GpuHashSearch.open(t)) {
      byte[] q = {0, 0};
      SearchResult knn = s.query(q, 3);
      assertEquals(3, knn.count(0));
      assertEquals(30, knn.id(0, 0));
      assertEquals(0, knn.hamming(0, 0));
      assertEquals(20, knn.id(0, 1));
      assertEquals(1, knn.hamming(0, 1));
      assertEquals(10, knn.id(0, 2));
      assertEquals(2, knn.hamming(0, 2));

      SearchResult rad = s.radius(q, 2, 2);
      assertEquals(2, rad.count(0));
      assertTrue(rad.truncated(0), "three codes are within 2, the cap is 2");
      assertEquals(3, s.radius(q, 2, 10).count(0));
      assertEquals(false, s.radius(q, 2, 10).truncated(0));

      // pool of 3 by Hamming, then Euclidean from (0.4, 0): 30 at 0.16, 20 at 0.36+1=1.36, 10 at far
      SearchResult hds = s.coarseToFine(q, new float[] {0.4f, 0}, Pool.topM(3), 2);
      assertEquals(30, hds.id(0, 0));
      assertEquals(0.16f, hds.distance(0, 0), 1e-6);
      assertEquals(20, hds.id(0, 1));
      assertEquals(1, hds.hamming(0, 1));

      // exhaustive sees id 40 (Hamming 16) at 0.01
      SearchResult es = s.exhaustive(new float[] {0.4f, 0}, 1);
      assertEquals(40, es.id(0, 0));
      assertEquals(0.01f, es.distance(0, 0), 1e-6);
      assertThrows(IllegalStateException.class, () -> es.hamming(0, 0));
    }
  }

  @Test
  void rejectsBadArguments() {
    try (CodeTable t = small(); GpuHashSearch s = GpuHashSearch.open(t)) {
      assertMessage(() -> s.query(new byte[3], 1), "whole codes of 2 bytes");
      assertMessage(() -> s.query(new byte[2], 0), "k must be >= 1");
      assertMessage(() -> s.query(null, 1), "must not be null");
      assertMessage(() -> s.radius(new byte[2], 17, 5), "radius must be in [0, 16]");
      assertMessage(() -> s.radius(new byte[2], -1, 5), "radius must be in [0, 16]");
      assertMessage(() -> s.radius(new byte[2], 3, 0), "cap must be >= 1");
      assertMessage(() -> s.coarseToFine(new byte[2], new float[3], Pool.topM(2), 1), "1 x 2 floats");
      assertMessage(() -> s.coarseToFine(new byte[2], new float[] {Float.NaN, 0}, Pool.topM(2), 1), "finite");
      assertMessage(() -> s.coarseToFine(new byte[2], new float[2], null, 1), "pool must not be null");
      assertMessage(() -> s.exhaustive(new float[3], 1), "whole vectors of d=2");
      assertMessage(() -> Pool.topM(0), "pool size");
    }
    try (CodeTable t = CodeTable.create(8, 0, false); GpuHashSearch s = GpuHashSearch.open(t)) {
      assertMessage(() -> s.exhaustive(new float[2], 1), "no features");
      SearchResult empty = s.query(new byte[] {1, 2}, 4);
      assertEquals(2, empty.queryCount());
      assertEquals(0, empty.count(1));
    }
  }

  @Test
  void backendSelection() {
    var e = assertThrows(BackendUnavailableException.class,
        () -> GpuHashSearch.open(CodeTable.create(8, 0, false), SearchOptions.defaults().withBackend("nosuch")));
    assertTrue(e.getMessage().contains("choose one of ["), e.getMessage());
    assertTrue(Backends.available().stream().anyMatch(p -> p.name().equals("java")));
    try (CodeTable t = CodeTable.create(8, 0, false);
        GpuHashSearch s = GpuHashSearch.open(t, SearchOptions.defaults().withBackend("JAVA").withThreads(1))) {
      assertEquals("java", s.backendName());
    }
    assertThrows(IllegalArgumentException.class, () -> SearchOptions.defaults().withThreads(-1));
  }

  private static void assertMessage(org.junit.jupiter.api.function.Executable call, String part) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(part), "message '" + e.getMessage() + "' should mention '" + part + "'");
  }

  /**
   * A backend without exhaustive search (the GPU's): the facade runs ES on a CPU backend, with
   * the same answer as the oracle, and reports that call's timings as host time.
   */
  @Test
  void exhaustiveFallsBackToACpuBackend() {
    try (CodeTable t = small();
        GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
        GpuHashSearch s = GpuHashSearch.over(t, new NoExhaustive(Backends.byName("scalar").create(1)), 1)) {
      float[] qf = {0.9f, 1.1f, 4f, 6f};
      SearchResult want = oracle.exhaustive(qf, 3);
      SearchResult got = s.exhaustive(qf, 3);
      for (int q = 0; q < 2; q++) {
        org.junit.jupiter.api.Assertions.assertArrayEquals(want.ids(q), got.ids(q));
        org.junit.jupiter.api.Assertions.assertArrayEquals(want.distances(q), got.distances(q));
      }
      assertEquals(java.util.Set.of("host", "total"), s.lastTimingsMs().keySet());
      s.query(new byte[] {0, 0}, 1);
      assertEquals(java.util.Map.of(), s.lastTimingsMs(), "a later call clears the fallback's timings");
    }
  }

  /** Delegates everything but exhaustive search, which it refuses like the cuda backend. */
  private record NoExhaustive(org.deephash.spi.SearchBackend d) implements org.deephash.spi.SearchBackend {
    @Override
    public String name() {
      return "no-exhaustive";
    }

    @Override
    public SearchResult knn(org.deephash.spi.TableView t, org.deephash.spi.Queries q, int k) {
      return d.knn(t, q, k);
    }

    @Override
    public SearchResult radius(org.deephash.spi.TableView t, org.deephash.spi.Queries q, int r, int cap) {
      return d.radius(t, q, r, cap);
    }

    @Override
    public SearchResult coarseToFine(org.deephash.spi.TableView t, org.deephash.spi.Queries q, Pool p, int k) {
      return d.coarseToFine(t, q, p, k);
    }

    @Override
    public SearchResult exhaustive(org.deephash.spi.TableView t, org.deephash.spi.Queries q, int k) {
      throw new AssertionError("the facade must not call exhaustive() when supportsExhaustive() is false");
    }

    @Override
    public boolean supportsExhaustive() {
      return false;
    }

    @Override
    public void close() {
      d.close();
    }
  }
}
