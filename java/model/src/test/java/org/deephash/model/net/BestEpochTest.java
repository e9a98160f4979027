package org.deephash.model.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * The epoch kept by model selection (the highest validation figure, the earliest among equals) and
 * the epoch count a refit trains for.
 */
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

  @Test
  void refitTrainsForTheLatestEpochWithinOneStandardErrorOfTheBest() {
    // a real curve (conv2 96, seed 1, 5,000 validation images): the best, 0.9296 at epoch 8, is
    // within noise of the later ones (one standard error: 0.0036), so the refit trains all 16
    double[] seed1 = {0.8772, 0.8956, 0.9042, 0.9096, 0.9154, 0.9244, 0.9250, 0.9296, 0.9270, 0.9260, 0.9276, 0.9280,
        0.9268, 0.9290, 0.9272, 0.9288};
    assertEquals(8, Trainer.bestEpoch(seed1, 16) + 1);
    assertEquals(16, Trainer.refitEpochs(seed1, 16, 5000));
    assertEquals(14, Trainer.refitEpochs(seed1, 14, 5000), "only the epochs done count");
    // on 50,000 images the error is 0.0011: epoch 16's 0.9288 is within it, 0.9280 would not be
    assertEquals(16, Trainer.refitEpochs(seed1, 16, 50_000));
    assertEquals(8, Trainer.refitEpochs(seed1, 13, 50_000));
    // a clearly better early epoch wins: error sqrt(0.9 * 0.1 / 100) = 0.03, floor 0.87
    assertEquals(2, Trainer.refitEpochs(new double[] {0.80, 0.90, 0.869, 0.85}, 4, 100));
    assertEquals(3, Trainer.refitEpochs(new double[] {0.80, 0.90, 0.871, 0.85}, 4, 100));
    assertEquals(3, Trainer.refitEpochs(new double[] {0.80, 0.90, 0.871, Double.NaN}, 4, 100));
  }

  @Test
  void refitWithoutFiguresOrImages() {
    assertEquals(0, Trainer.refitEpochs(new double[] {Double.NaN, Double.NaN}, 2, 100));
    assertThrows(IllegalArgumentException.class, () -> Trainer.refitEpochs(new double[] {0.5}, 1, 0));
  }
}
