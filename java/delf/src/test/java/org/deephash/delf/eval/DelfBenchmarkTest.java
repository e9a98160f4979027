package org.deephash.delf.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DelfBenchmarkTest {
  @Test
  void aSubsetsMapIsTheMeanOfItsQueriesAp() {
    double[] ap = {1, 0.5, 0.25, 0.125};
    assertEquals(0.625, DelfBenchmark.subsetMap(ap, new int[] {0, 2}), 0);
    assertEquals(DelfBenchmark.mean(ap), DelfBenchmark.subsetMap(ap, new int[] {0, 1, 2, 3}), 1e-15);
    assertEquals(0.125, DelfBenchmark.subsetMap(ap, new int[] {3}), 0);
    assertTrue(Double.isNaN(DelfBenchmark.subsetMap(ap, new int[0])));
  }
}
