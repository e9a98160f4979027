package org.deephash.delf.eval;

import java.util.Arrays;

/**
 * Instance-retrieval metrics where each query has exactly one relevant database image (the photo
 * its view was made from).
 *
 * <ul>
 *   <li>{@link #averagePrecision}: with one relevant image at rank r (1-based) AP = 1 / r; 0 when
 *       the ranking does not contain it. mAP is the mean over queries.
 *   <li>{@link #microAp}: the global (micro) AP of the Google-Landmarks evaluation the DELF paper
 *       uses: each query contributes its top-1 prediction with a confidence; predictions of all
 *       queries are sorted by descending confidence and GAP = (1/M) sum_i P(i) rel(i), P(i) the
 *       precision of the first i predictions, M the number of queries.
 * </ul>
 */
public final class RetrievalMetrics {
  private RetrievalMetrics() {}

  /** AP of one ranking (database ids, best first) for the one relevant id. */
  public static double averagePrecision(int[] ranking, int relevant) {
    for (int r = 0; r < ranking.length; r++) {
      if (ranking[r] == relevant) {
        return 1.0 / (r + 1);
      }
    }
    return 0;
  }

  /**
   * Global AP over queries: {@code correct[q]} says whether query q's top-1 prediction is its
   * relevant image, {@code confidence[q]} how sure the method is (ties keep query order).
   */
  public static double microAp(boolean[] correct, double[] confidence) {
    int m = correct.length;
    if (confidence.length != m) {
      throw new IllegalArgumentException("one confidence per query: " + confidence.length + " for " + m);
    }
    if (m == 0) {
      return Double.NaN;
    }
    Integer[] order = new Integer[m];
    for (int i = 0; i < m; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Double.compare(confidence[b], confidence[a]));
    double sum = 0;
    int hits = 0;
    for (int i = 0; i < m; i++) {
      if (correct[order[i]]) {
        hits++;
        sum += hits / (double) (i + 1);
      }
    }
    return sum / m;
  }
}
