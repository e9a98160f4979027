package org.deephash.delf.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The verification score against values worked out by hand (and with the log-gamma function outside
 * Java), and the ranking rule it gives: raw inliers that chance explains do not beat fewer, significant
 * ones.
 */
class SignificanceTest {

  @Test
  void logBinomialsAsByHand() {
    assertEquals(Math.log(10), Significance.lnChoose(5, 2), 1e-12);
    assertEquals(Math.log(10), Significance.lnChoose(5, 3), 1e-12);
    assertEquals(0, Significance.lnChoose(7, 0), 0);
    assertEquals(0, Significance.lnChoose(7, 7), 0);
    // ln C(1000, 500) = lgamma(1001) - 2 lgamma(501)
    assertEquals(689.467261567851, Significance.lnChoose(1000, 500), 1e-8);
  }

  @Test
  void significanceAsByHand() {
    // 10 matches, 6 inliers, p = 0.01: -(ln 7 + ln C(10,6) + ln C(6,3) + 3 ln 0.01)
    // = -(ln 7 + ln 210 + ln 20 + 3 ln 0.01) = 3.52676...
    assertEquals(-(Math.log(7) + Math.log(210) + Math.log(20) + 3 * Math.log(0.01)), Significance.of(10, 6, 0.01),
        1e-12);
    assertEquals(3.5267606046375, Significance.of(10, 6, 0.01), 1e-9);
    // 80 matches, 20 inliers, 6 px over 250 x 170 px: 46.70126 (lgamma outside Java)
    double p = Significance.chance(6, 250 * 170);
    assertEquals(Math.PI * 36 / 42500, p, 1e-15);
    assertEquals(46.70125565580818, Significance.of(80, 20, p), 1e-9);
  }

  @Test
  void whatChanceExplainsScoresZero() {
    // 100 matches, p = 0.1: 10 inliers are expected of any model; 5 are nothing
    assertEquals(0, Significance.of(100, 5, 0.1));
    // 200 matches crowded in a small area (p = 0.1): even 30 inliers are chance
    assertEquals(0, Significance.of(200, 30, 0.1));
    // 3 inliers: any affine model has them
    assertEquals(0, Significance.of(50, 3, 1e-6));
    // the disc covers more than half the area: capped
    assertEquals(Significance.MAX_CHANCE, Significance.chance(12, 100));
    assertEquals(Significance.MAX_CHANCE, Significance.chance(1, 0), "no area: the cap, not a division by 0");
  }

  @Test
  void moreInliersOfAsManyMatchesAreMoreSignificant() {
    double prev = 0;
    for (int k = 4; k <= 40; k++) {
      double s = Significance.of(60, k, 0.005);
      // 0 while chance explains the inliers (about 0.3 expected of each model), then rising
      assertTrue(prev > 0 ? s > prev : s >= 0, "k = " + k + ": " + s + " after " + prev);
      prev = s;
    }
    assertTrue(prev > 100, "40 of 60 inliers at p = 0.005: " + prev);
  }

  /**
   * The ranking rule: image A has 30 inliers of 200 matches crowded where p = 0.1 (chance level);
   * image B 15 of 40 spread where p = 0.003 (significance 35.56). Ranked by raw inliers, A wins; by
   * significance B does, and A keeps the place its votes give.
   */
  @Test
  void aChanceLevelModelWithManyInliersDoesNotOutrankASignificantOne() {
    double sa = Significance.of(200, 30, 0.1);
    double sb = Significance.of(40, 15, 0.003);
    assertEquals(0, sa);
    assertEquals(35.560737444237176, sb, 1e-9);
    int votes = 300;
    int q = 1000;
    assertTrue(DelfSearch.score(DelfSearch.Order.INLIERS, votes, 30, sa, q)
        > DelfSearch.score(DelfSearch.Order.INLIERS, votes, 15, sb, q), "raw inliers: A first");
    double a = DelfSearch.score(DelfSearch.Order.SIGNIFICANCE, votes, 30, sa, q);
    double b = DelfSearch.score(DelfSearch.Order.SIGNIFICANCE, votes, 15, sb, q);
    assertTrue(b > a, "significance: B first");
    assertEquals(Math.log(300), a, 1e-12, "A scores its votes alone");
    assertEquals(Math.log(300) + 0.03 * 35.560737444237176, b, 1e-9);
    // a significant model lifts an image over one with somewhat more votes, not over any number of votes
    assertTrue(b > DelfSearch.score(DelfSearch.Order.SIGNIFICANCE, 400, 0, 0, q));
    assertTrue(b < DelfSearch.score(DelfSearch.Order.SIGNIFICANCE, 1000, 0, 0, q));
  }

  @Test
  void badArgumentsAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> Significance.of(10, 11, 0.1));
    assertThrows(IllegalArgumentException.class, () -> Significance.of(10, -1, 0.1));
    assertThrows(IllegalArgumentException.class, () -> Significance.of(10, 5, 0));
    assertThrows(IllegalArgumentException.class, () -> Significance.of(10, 5, 1));
    assertThrows(IllegalArgumentException.class, () -> Significance.chance(0, 100));
    assertThrows(IllegalArgumentException.class, () -> Significance.chance(Double.NaN, 100));
    assertThrows(IllegalArgumentException.class, () -> Significance.chance(6, -1));
  }
}
