package org.deephash;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The one comparison of search results: each rule, and what its message says. */
class ResultComparisonTest {
  /** One query's Hamming results. */
  private static SearchResult ham(long[] ids, int[] d) {
    return SearchResult.of(new int[] {0, ids.length}, ids, d, null, null);
  }

  /** One query's coarse-to-fine results (Hamming and squared L2). */
  private static SearchResult l2(long[] ids, int[] h, float[] d) {
    return SearchResult.of(new int[] {0, ids.length}, ids, h, d, null);
  }

  @Test
  void exactAcceptsIdenticalResults() {
    SearchResult r = ham(new long[] {4, 9, 2}, new int[] {1, 1, 3});
    assertEquals(List.of(), ResultComparison.exact().differences(r, ham(new long[] {4, 9, 2}, new int[] {1, 1, 3})));
  }

  @Test
  void exactNamesTheQueryAndRank() {
    SearchResult want = ham(new long[] {4, 9, 2}, new int[] {1, 1, 3});
    assertEquals(List.of("query 0 rank 0: expected id 4 at Hamming distance 1, got id 9 at Hamming distance 1"
        + " (ties must be by ascending id)"),
        ResultComparison.exact().differences(want, ham(new long[] {9, 4, 2}, new int[] {1, 1, 3})));
    assertEquals(List.of("query 7 rank 2: expected id 2 at Hamming distance 3, got id 2 at Hamming distance 4"),
        ResultComparison.exact().queryNumbers(new int[] {7})
            .differences(want, ham(new long[] {4, 9, 2}, new int[] {1, 1, 4})));
    assertEquals(List.of("query 0: expected 3 results, got 2"),
        ResultComparison.exact().differences(want, ham(new long[] {4, 9}, new int[] {1, 1})));
    SearchResult truncated = SearchResult.of(new int[] {0, 3}, new long[] {4, 9, 2}, new int[] {1, 1, 3}, null,
        new boolean[] {true});
    assertEquals(List.of("query 0: expected truncated=false, got true"),
        ResultComparison.exact().differences(want, truncated));
    assertEquals(List.of("expected results for 1 queries, got 0"),
        ResultComparison.exact().differences(want, SearchResult.of(new int[] {0}, new long[0], new int[0], null, null)));
  }

  @Test
  void exactComparesFloatDistancesBitForBit() {
    SearchResult want = l2(new long[] {1}, new int[] {0}, new float[] {0.5f});
    assertEquals(1, ResultComparison.exact().differences(want,
        l2(new long[] {1}, new int[] {0}, new float[] {Math.nextUp(0.5f)})).size());
  }

  @Test
  void euclideanToleratesRoundingAndSwapsAmongNearTies() {
    SearchResult want = l2(new long[] {1, 2, 3}, new int[] {5, 6, 7}, new float[] {10f, 20f, 20.0001f});
    ResultComparison c = ResultComparison.euclidean(1e-5);
    // rounding within 1e-5 relative
    assertEquals(List.of(), c.differences(want, l2(new long[] {1, 2, 3}, new int[] {5, 6, 7},
        new float[] {10.00005f, 20f, 20.0001f})));
    // ids 2 and 3 are tied to 1e-5: either order
    assertEquals(List.of(), c.differences(want, l2(new long[] {1, 3, 2}, new int[] {5, 7, 6},
        new float[] {10f, 20.0001f, 20f})));
    // an id outside the expected list is fine at the cut-off when it ties with the last distance
    assertEquals(List.of(), c.differences(want, l2(new long[] {1, 2, 8}, new int[] {5, 6, 9},
        new float[] {10f, 20f, 20.0001f})));
  }

  @Test
  void euclideanRefusesWhatIsNotATie() {
    SearchResult want = l2(new long[] {1, 2, 3}, new int[] {5, 6, 7}, new float[] {10f, 20f, 30f});
    ResultComparison c = ResultComparison.euclidean(1e-5);
    assertEquals(List.of("query 0 rank 1: expected squared distance 20.0, got 20.1 (id 2, expected id 2)"),
        c.differences(want, l2(new long[] {1, 2, 3}, new int[] {5, 6, 7}, new float[] {10f, 20.1f, 30f})));
    assertEquals(List.of("query 0 rank 1: expected id 2, got 3 (expected distances 20.0 vs 30.0: not a near-tie)"),
        c.differences(want, l2(new long[] {1, 3, 2}, new int[] {5, 7, 6}, new float[] {10f, 20f, 30f})));
    assertEquals(List.of("query 0 rank 1: id 1 is returned twice"),
        c.differences(want, l2(new long[] {1, 1, 3}, new int[] {5, 5, 7}, new float[] {10f, 20f, 30f})));
    assertEquals(List.of("query 0 rank 2: id 3 at Hamming distance 8, expected 7"),
        c.differences(want, l2(new long[] {1, 2, 3}, new int[] {5, 6, 8}, new float[] {10f, 20f, 30f})));
  }

  @Test
  void truthChecksReportedDistancesAgainstTheTable() {
    SearchResult want = l2(new long[] {1, 2}, new int[] {5, 6}, new float[] {10f, 20f});
    ResultComparison.Truth truth = new ResultComparison.Truth() {
      @Override
      public double l2(int q, long id) {
        return id == 1 ? 10 : id == 2 ? 20 : Double.NaN;
      }

      @Override
      public int hamming(int q, long id) {
        return id == 1 ? 5 : id == 2 ? 4 : -1; // the table says id 2 is at Hamming distance 4
      }
    };
    assertEquals(List.of("query 0 rank 1: id 2 reported at Hamming distance 6 but is at 4"),
        ResultComparison.euclidean(1e-4).truth(truth).differences(want, want));
  }

  @Test
  void toleranceMustBeSane() {
    assertThrows(IllegalArgumentException.class, () -> ResultComparison.euclidean(-1));
    assertThrows(IllegalArgumentException.class, () -> ResultComparison.euclidean(Double.NaN));
  }
}
