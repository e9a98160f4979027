package org.deephash.model.eval;

/**
 * Retrieval metrics of one ranked list, as the DLBHC paper and its reference code define them.
 * {@code rel[j]} says whether the item at rank j (0-based) has the query's label.
 *
 * <ul>
 *   <li>P@k: relevant items among the first k, divided by k (a list shorter than k counts the
 *       missing ranks as misses).
 *   <li>mAP@K, the reference code's definition: sum over ranks j <= K of P@j * rel(j), divided by
 *       the number of relevant items <em>within the top K</em> (0 when there are none).
 *   <li>AP over the full list (standard mAP): the same sum over the whole ranking, divided by all
 *       relevant items of the database.
 *   <li>Precision within Hamming radius r: relevant items among those at distance <= r, 0 when no
 *       item is that close.
 * </ul>
 *
 * <pre>{@code
 * boolean[] rel = {true, false, true};
 * Metrics.precisionAt(rel, 2);            // 0.5
 * Metrics.averagePrecisionAt(rel, 3);     // (1/1 + 2/3) / 2
 * Metrics.averagePrecision(rel, 4);       // (1/1 + 2/3) / 4
 * }</pre>
 */
public final class Metrics {
  private Metrics() {}

  public static double precisionAt(boolean[] rel, int k) {
    if (k < 1) {
      throw new IllegalArgumentException("k must be >= 1 (passed " + k + ")");
    }
    int hits = 0;
    for (int j = 0, m = Math.min(k, rel.length); j < m; j++) {
      if (rel[j]) {
        hits++;
      }
    }
    return hits / (double) k;
  }

  /** The reference code's mAP@K term for one query: normalised by the relevant items within the top K. */
  public static double averagePrecisionAt(boolean[] rel, int k) {
    if (k < 1) {
      throw new IllegalArgumentException("K must be >= 1 (passed " + k + ")");
    }
    int hits = 0;
    double sum = 0;
    for (int j = 0, m = Math.min(k, rel.length); j < m; j++) {
      if (rel[j]) {
        hits++;
        sum += hits / (double) (j + 1);
      }
    }
    return hits == 0 ? 0 : sum / hits;
  }

  /** Standard average precision over the full ranking: normalised by every relevant item of the database. */
  public static double averagePrecision(boolean[] rel, int totalRelevant) {
    if (totalRelevant < 0) {
      throw new IllegalArgumentException("totalRelevant must be >= 0");
    }
    int hits = 0;
    double sum = 0;
    for (int j = 0; j < rel.length; j++) {
      if (rel[j]) {
        hits++;
        sum += hits / (double) (j + 1);
      }
    }
    if (hits > totalRelevant) {
      throw new IllegalArgumentException("the list holds " + hits + " relevant items but totalRelevant is " + totalRelevant);
    }
    return totalRelevant == 0 ? 0 : sum / totalRelevant;
  }

  /** Precision among the items within Hamming distance r ({@code distances} ranked with {@code rel}); 0 if none. */
  public static double precisionWithinRadius(int[] distances, boolean[] rel, int r) {
    int n = 0;
    int hits = 0;
    for (int j = 0; j < distances.length; j++) {
      if (distances[j] <= r) {
        n++;
        if (rel[j]) {
          hits++;
        }
      }
    }
    return n == 0 ? 0 : hits / (double) n;
  }
}
