package org.deephash.model.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Metric definitions checked against small cases computed by hand. */
class MetricsTest {
  private static final double EPS = 1e-12;
  // Ranked relevance: R N R R N (relevant at ranks 1, 3, 4).
  private static final boolean[] REL = {true, false, true, true, false};

  @Test
  void precisionAtK() {
    assertEquals(1.0, Metrics.precisionAt(REL, 1), EPS);
    assertEquals(0.5, Metrics.precisionAt(REL, 2), EPS);
    assertEquals(3 / 5.0, Metrics.precisionAt(REL, 5), EPS);
    // A list shorter than k counts the missing ranks as misses.
    assertEquals(3 / 10.0, Metrics.precisionAt(REL, 10), EPS);
    assertThrows(IllegalArgumentException.class, () -> Metrics.precisionAt(REL, 0));
  }

  @Test
  void mapAtKNormalisesByTheRelevantItemsWithinTheTopK() {
    // Reference code (DLBHC): sum_{j<=K} P(j) rel(j) / (relevant within top K).
    // K = 3: relevant at 1 and 3 -> (1/1 + 2/3) / 2.
    assertEquals((1.0 + 2.0 / 3) / 2, Metrics.averagePrecisionAt(REL, 3), EPS);
    // K = 5: (1 + 2/3 + 3/4) / 3.
    assertEquals((1.0 + 2.0 / 3 + 3.0 / 4) / 3, Metrics.averagePrecisionAt(REL, 5), EPS);
    // No relevant item in the top K: 0, not NaN.
    assertEquals(0.0, Metrics.averagePrecisionAt(new boolean[] {false, false, true}, 2), EPS);
    // A perfect top K scores 1 even when more relevant items exist further down: this is what
    // makes mAP@K differ from the standard mAP.
    assertEquals(1.0, Metrics.averagePrecisionAt(new boolean[] {true, true, false, true}, 2), EPS);
  }

  @Test
  void standardApNormalisesByAllRelevantItemsOfTheDatabase() {
    // Same list, 4 relevant items in the database (one never retrieved).
    assertEquals((1.0 + 2.0 / 3 + 3.0 / 4) / 4, Metrics.averagePrecision(REL, 4), EPS);
    // Full ranking that contains every relevant item: classic AP.
    assertEquals((1.0 + 2.0 / 3 + 3.0 / 4) / 3, Metrics.averagePrecision(REL, 3), EPS);
    assertEquals(0.0, Metrics.averagePrecision(new boolean[] {false}, 0), EPS);
    assertThrows(IllegalArgumentException.class, () -> Metrics.averagePrecision(REL, 2));
  }

  @Test
  void precisionWithinRadius() {
    int[] d = {0, 1, 2, 2, 3};
    // Within radius 2: ranks 1-4, relevant R N R R -> 3/4.
    assertEquals(0.75, Metrics.precisionWithinRadius(d, REL, 2), EPS);
    assertEquals(1.0, Metrics.precisionWithinRadius(d, REL, 0), EPS);
    // Nothing within the radius: 0.
    assertEquals(0.0, Metrics.precisionWithinRadius(new int[] {5, 6}, new boolean[] {true, true}, 2), EPS);
  }
}
