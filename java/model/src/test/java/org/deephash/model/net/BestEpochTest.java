package org.deephash.model.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The epoch kept by model selection: the highest validation figure, the earliest among equals. */
class BestEpochTest {

  @Test
  void picksTheMaximum() {
    double[] acc = {0.86, 0.89, 0.91, 0.912, 0.915, 0.913, 0.919, 0.917, 0.921, 0.919};
    assertEquals(8, Trainer.bestEpoch(acc, acc.length));
    assertEquals(6, Trainer.bestEpoch(acc, 8), "only the epochs done so far count");
    assertEquals(0, Trainer.bestEpoch(acc, 1));
  }

  @Test
  void earliestAmongEqualsAndNaNNeverWins() {
    assertEquals(1, Trainer.bestEpoch(new double[] {0.5, 0.9, 0.9, 0.7}, 4));
    assertEquals(2, Trainer.bestEpoch(new double[] {Double.NaN, 0.4, 0.6, Double.NaN}, 4));
    assertEquals(-1, Trainer.bestEpoch(new double[] {Double.NaN, Double.NaN}, 2));
    assertEquals(-1, Trainer.bestEpoch(new double[3], 0));
  }

  @Test
  void moreEpochsThanFiguresIsAnError() {
    assertThrows(IllegalArgumentException.class, () -> Trainer.bestEpoch(new double[2], 3));
  }
}
