package org.deephash.model.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Fine stages on hand-built pools: exact orderings, the choice rule, names and features. */
class FineStageTest {
  // Five database items with 1-d fine features 0, 1, 2, 3, 4 (so distance to a query at x is (x - i)^2).
  private static final float[] DB = {0, 1, 2, 3, 4};
  // The pool in Hamming order (ties by id): ids 3, 0 at distance 1; 4, 1, 2 at distance 2.
  private static final long[] IDS = {0, 3, 1, 2, 4};
  private static final int[] HAM = {1, 1, 2, 2, 2};

  private static long[] ranked(FineStage s, float query) {
    int[] order = s.order(IDS, HAM, new float[] {query}, 0, DB, 1, null);
    long[] out = new long[order.length];
    for (int i = 0; i < order.length; i++) {
      out[i] = IDS[order[i]];
    }
    return out;
  }

  @Test
  void fullReRankOrdersThePoolByFineDistanceTiesById() {
    // query at 3.5: distances 12.25, 0.25, 6.25, 2.25, 0.25 -> 3 and 4 tie (id 3 first), then 2, 1, 0.
    assertArrayEquals(new long[] {3, 4, 2, 1, 0}, ranked(FineStage.LATENT, 3.5f));
    assertArrayEquals(new long[] {3, 4, 2, 1, 0}, ranked(FineStage.F7, 3.5f));
  }

  @Test
  void tiesOnlyKeepsTheHammingOrderAndReordersEqualDistances() {
    // Hamming groups {0, 3} and {1, 2, 4}; query at 3.5 orders them 3, 0 | 4, 2, 1.
    assertArrayEquals(new long[] {3, 0, 4, 2, 1}, ranked(FineStage.LATENT_TIES, 3.5f));
    // query at 0: 0, 3 | 1, 2, 4 (the Hamming order with ids ascending happens to agree).
    assertArrayEquals(new long[] {0, 3, 1, 2, 4}, ranked(FineStage.LATENT_TIES, 0f));
  }

  @Test
  void featuresGatheredApartGiveTheSameOrder() {
    // The pool's features in pool order (rows 0..4) instead of database rows: same ranking, ties by id.
    float[] gathered = new float[IDS.length];
    int[] rows = new int[IDS.length];
    for (int i = 0; i < IDS.length; i++) {
      gathered[i] = DB[(int) IDS[i]];
      rows[i] = i;
    }
    for (FineStage s : FineStage.values()) {
      assertArrayEquals(s.order(IDS, HAM, new float[] {3.5f}, 0, DB, 1, null),
          s.order(IDS, HAM, new float[] {3.5f}, 0, gathered, rows, 1, null), s.key());
    }
  }

  @Test
  void distancesComeOutInRankedOrder() {
    float[] d = new float[5];
    FineStage.LATENT_TIES.order(IDS, HAM, new float[] {3.5f}, 0, DB, 1, d);
    assertArrayEquals(new float[] {0.25f, 12.25f, 0.25f, 2.25f, 6.25f}, d);
  }

  @Test
  void normalisedF7ScalesRowsToUnitLengthAndLeavesZeroRows() {
    float[] f = {3, 4, 0, 0, 1, 0};
    float[] n = FineStage.F7_NORM_TIES.features(f, 2, null, 0, 3);
    assertArrayEquals(new float[] {0.6f, 0.8f, 0, 0, 1, 0}, n, 1e-7f);
    assertArrayEquals(new float[] {3, 4, 0, 0, 1, 0}, f, "the input is not modified");
    float[] latent = {0.1f, 0.9f};
    assertTrue(FineStage.LATENT.features(f, 2, latent, 2, 1) == latent);
    assertEquals(48, FineStage.LATENT_TIES.dim(512, 48));
    assertEquals(512, FineStage.F7_NORM.dim(512, 48));
  }

  @Test
  void choosesTheLargestGainAmongStagesThatNeverLoseToTheCodes() {
    FineStage.Score bcs = new FineStage.Score(0.90, 0.80);
    Map<FineStage, FineStage.Score> c = new LinkedHashMap<>();
    c.put(FineStage.F7, new FineStage.Score(0.99, 0.7999)); // large P@10 gain but loses mAP: not safe
    c.put(FineStage.LATENT, new FineStage.Score(0.92, 0.80)); // safe, gain 0.02
    c.put(FineStage.LATENT_TIES, new FineStage.Score(0.905, 0.805)); // safe, gain 0.01
    assertEquals(FineStage.LATENT, FineStage.choose(c, bcs));
    c.put(FineStage.F7_NORM_TIES, new FineStage.Score(0.93, 0.81)); // safe, gain 0.04
    assertEquals(FineStage.F7_NORM_TIES, FineStage.choose(c, bcs));
    // Equal gains: the first in declaration order.
    Map<FineStage, FineStage.Score> tie = new LinkedHashMap<>();
    tie.put(FineStage.LATENT_TIES, new FineStage.Score(0.91, 0.81));
    tie.put(FineStage.F7_NORM, new FineStage.Score(0.91, 0.81));
    assertEquals(FineStage.F7_NORM, FineStage.choose(tie, bcs));
    assertThrows(IllegalArgumentException.class, () -> FineStage.choose(Map.of(), bcs));
  }

  @Test
  void whenNoStageGainsWithoutLosingTheCodesOrderIsKept() {
    FineStage.Score bcs = new FineStage.Score(0.90, 0.80);
    Map<FineStage, FineStage.Score> c = new LinkedHashMap<>();
    c.put(FineStage.F7, new FineStage.Score(0.95, 0.70)); // P@10 up, mAP down
    c.put(FineStage.LATENT, new FineStage.Score(0.89, 0.81)); // P@10 down
    c.put(FineStage.LATENT_TIES, new FineStage.Score(0.8999, 0.8001)); // down by a hair
    assertEquals(FineStage.NONE, FineStage.choose(c, bcs));
    // equal to the codes is no gain either
    assertEquals(FineStage.NONE, FineStage.choose(Map.of(FineStage.F7_NORM, bcs), bcs));
    // a gain in one, equal in the other, is kept
    assertEquals(FineStage.F7_NORM, FineStage.choose(Map.of(FineStage.F7_NORM, new FineStage.Score(0.90, 0.8001)),
        bcs));
    assertFalse(FineStage.reRankings().contains(FineStage.NONE));
    assertEquals(FineStage.values().length - 1, FineStage.reRankings().size());
  }

  @Test
  void aGainTheSplitCannotTellFromNoiseIsNotKept() {
    FineStage.Score bcs = new FineStage.Score(0.9190, 0.9181);
    // the 2026-12-05 case: P@10 +0.0010 (se 0.0008), full mAP +0.00000 (se 0.00002); lost on the test queries
    FineStage.Score latent = new FineStage.Score(0.9200, 0.91810, 0.0008, 0.00002);
    assertEquals(FineStage.NONE, FineStage.choose(Map.of(FineStage.LATENT, latent), bcs));
    // a clear gain in one metric (full mAP, 2.5 standard errors) and none lost in the other: kept
    FineStage.Score clearMap = new FineStage.Score(0.9192, 0.91815, 0.0008, 0.00002);
    assertEquals(FineStage.LATENT, FineStage.choose(Map.of(FineStage.LATENT, clearMap), bcs));
    // a clear gain in one and a loss, however small, in the other: not kept
    FineStage.Score lossP10 = new FineStage.Score(0.91899, 0.9190, 0.0008, 0.00002);
    assertEquals(FineStage.NONE, FineStage.choose(Map.of(FineStage.F7, lossP10), bcs));
    // among clear stages the larger sum of gains wins, whatever its errors
    Map<FineStage, FineStage.Score> c = new LinkedHashMap<>();
    c.put(FineStage.F7, new FineStage.Score(0.9210, 0.91811, 0.0008, 0.00002)); // clear in P@10 (2.5 se)
    c.put(FineStage.LATENT, latent);
    c.put(FineStage.F7_NORM_TIES, clearMap);
    assertEquals(FineStage.F7, FineStage.choose(c, bcs));
    c.remove(FineStage.F7);
    assertEquals(FineStage.F7_NORM_TIES, FineStage.choose(c, bcs));
  }

  @Test
  void theStandardErrorOfPairedGains() {
    // d = {1, 0, 0, 0}: mean 0.25, sample variance 0.25, se sqrt(0.25 / 4) = 0.25
    assertEquals(0.25, FineStage.Score.standardError(new double[] {1, 0, 0, 0}), 1e-15);
    // d = {2, 4, 4, 4, 5, 5, 7, 9}: sample variance 32 / 7, se sqrt(32 / 7 / 8)
    assertEquals(Math.sqrt(32.0 / 7 / 8), FineStage.Score.standardError(new double[] {2, 4, 4, 4, 5, 5, 7, 9}),
        1e-15);
    assertEquals(0, FineStage.Score.standardError(new double[] {3}));
    assertEquals(0, FineStage.Score.standardError(new double[] {0.5, 0.5, 0.5}));
  }

  @Test
  void noneKeepsTheHammingOrderWithTiesById() {
    long[] ids = {40, 7, 12, 3, 25};
    int[] ham = {2, 1, 2, 1, 0};
    float[] d = new float[5];
    int[] order = FineStage.NONE.order(ids, ham, new float[0], 0, new float[0], new int[5], 0, d);
    // (0, 25), (1, 3), (1, 7), (2, 12), (2, 40)
    assertArrayEquals(new int[] {4, 3, 1, 2, 0}, order);
    assertEquals(0, FineStage.NONE.dim(512, 48));
  }

  @Test
  void namesRoundTripAndUnknownNamesSayWhatExists() {
    for (FineStage s : FineStage.values()) {
      assertEquals(s, FineStage.of(s.key().toUpperCase(java.util.Locale.ROOT)));
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FineStage.of("pca"));
    assertTrue(e.getMessage().contains("f7, f7n, latent, f7n-ties, latent-ties, none"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> FineStage.F7.order(new long[2], new int[1], new float[1], 0, DB, 1, null));
  }
}
