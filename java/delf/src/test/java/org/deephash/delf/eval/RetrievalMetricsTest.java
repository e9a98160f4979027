package org.deephash.delf.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RetrievalMetricsTest {
  @Test
  void averagePrecisionWithOneRelevantImage() {
    assertEquals(1.0, RetrievalMetrics.averagePrecision(new int[] {7, 3, 9}, 7));
    assertEquals(1.0 / 3, RetrievalMetrics.averagePrecision(new int[] {7, 3, 9}, 9), 1e-12);
    assertEquals(0.0, RetrievalMetrics.averagePrecision(new int[] {7, 3, 9}, 4));
    assertEquals(0.0, RetrievalMetrics.averagePrecision(new int[0], 4));
  }

  @Test
  void microApByHand() {
    // confidences sort the queries as q1 (0.9, right), q0 (0.8, wrong), q2 (0.5, right), q3 (0.1, wrong)
    boolean[] correct = {false, true, true, false};
    double[] conf = {0.8, 0.9, 0.5, 0.1};
    // (1/4) * (1/1 + 2/3) = 0.41666...
    assertEquals((1.0 + 2.0 / 3) / 4, RetrievalMetrics.microAp(correct, conf), 1e-12);
    // all right: 1; the same predictions with confident mistakes first score lower
    assertEquals(1.0, RetrievalMetrics.microAp(new boolean[] {true, true}, new double[] {1, 2}), 1e-12);
    double wrongFirst = RetrievalMetrics.microAp(new boolean[] {false, true}, new double[] {2, 1});
    double rightFirst = RetrievalMetrics.microAp(new boolean[] {false, true}, new double[] {1, 2});
    assertEquals(0.25, wrongFirst, 1e-12);
    assertEquals(0.5, rightFirst, 1e-12);
    assertTrue(Double.isNaN(RetrievalMetrics.microAp(new boolean[0], new double[0])));
    assertThrows(IllegalArgumentException.class, () -> RetrievalMetrics.microAp(new boolean[2], new double[1]));
  }
}
