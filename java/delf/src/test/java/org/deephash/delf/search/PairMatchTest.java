package org.deephash.delf.search;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.deephash.delf.extract.LocalFeatures;
import org.junit.jupiter.api.Test;

/**
 * Mutual nearest neighbours with the ratio test: the same correspondences, in the same order, with
 * the same ratios as a plain one-pair-at-a-time reference, for counts that are and are not
 * multiples of the kernel's four rows, with exact duplicate descriptors (ties), and a small case
 * worked by hand.
 */
class PairMatchTest {

  /** The reference: every pair's squared distance summed in dimension order, one pair at a time. */
  static List<int[]> reference(LocalFeatures a, LocalFeatures b, double ratio, List<Float> ratiosOut) {
    int d = a.dim();
    int[] bestB = new int[a.count()];
    double[] best = new double[a.count()];
    double[] second = new double[a.count()];
    int[] bestA = new int[b.count()];
    double[] bestOfB = new double[b.count()];
    java.util.Arrays.fill(bestOfB, Double.MAX_VALUE);
    for (int i = 0; i < a.count(); i++) {
      best[i] = Double.MAX_VALUE;
      second[i] = Double.MAX_VALUE;
      bestB[i] = -1;
      for (int j = 0; j < b.count(); j++) {
        double s = 0;
        for (int k = 0; k < d; k++) {
          double t = a.descriptors()[i * d + k] - b.descriptors()[j * d + k];
          s += t * t;
        }
        if (s < best[i]) {
          second[i] = best[i];
          best[i] = s;
          bestB[i] = j;
        } else if (s < second[i]) {
          second[i] = s;
        }
        if (s < bestOfB[j]) {
          bestOfB[j] = s;
          bestA[j] = i;
        }
      }
    }
    List<int[]> out = new ArrayList<>();
    for (int i = 0; i < a.count(); i++) {
      int j = bestB[i];
      if (j >= 0 && bestA[j] == i && Math.sqrt(best[i]) <= ratio * Math.sqrt(second[i])) {
        out.add(new int[] {i, j});
        ratiosOut.add(second[i] == Double.MAX_VALUE ? 0f : (float) Math.sqrt(best[i] / second[i]));
      }
    }
    return out;
  }

  static LocalFeatures features(SplittableRandom r, int n, int d, float[] from, double noise) {
    float[] desc = new float[n * d];
    float[] xy = new float[2 * n];
    for (int i = 0; i < n; i++) {
      double norm = 0;
      for (int k = 0; k < d; k++) {
        float v = from != null && i < from.length / d ? from[i * d + k] + (float) (noise * r.nextGaussian())
            : (float) r.nextGaussian();
        desc[i * d + k] = v;
        norm += v * v;
      }
      for (int k = 0; k < d; k++) {
        desc[i * d + k] /= (float) Math.sqrt(norm);
      }
      xy[2 * i] = (float) r.nextDouble(500);
      xy[2 * i + 1] = (float) r.nextDouble(400);
    }
    return new LocalFeatures(n, d, desc, xy, new float[n], new float[n]);
  }

  @Test
  void sameMatchesAsThePlainReference() {
    SplittableRandom r = new SplittableRandom(11);
    int d = 40;
    for (int[] sizes : new int[][] {{37, 53}, {64, 64}, {5, 3}, {1, 1}, {120, 301}}) {
      LocalFeatures a = features(r, sizes[0], d, null, 0);
      // b: noisy copies of a's first descriptors (so many are mutual nearest neighbours), then others
      LocalFeatures b = features(r, sizes[1], d, a.descriptors(), 0.15);
      // an exact duplicate in b: two rows at the same distance from every row of a
      if (b.count() >= 3) {
        System.arraycopy(b.descriptors(), 0, b.descriptors(), 2 * d, d);
      }
      for (double ratio : new double[] {0.9, 1.0}) {
        List<Float> refRatios = new ArrayList<>();
        List<int[]> ref = reference(a, b, ratio, refRatios);
        PairMatch m = PairMatch.of(a, b, ratio, null);
        String what = sizes[0] + " x " + sizes[1] + ", ratio " + ratio;
        assertEquals(ref.size(), m.count(), what);
        for (int c = 0; c < ref.size(); c++) {
          int i = ref.get(c)[0];
          int j = ref.get(c)[1];
          assertEquals(i, m.ai()[c], what);
          assertEquals(j, m.bi()[c], what);
          assertEquals(refRatios.get(c), m.ratios()[c], what);
          assertEquals(a.xy()[2 * i], m.ax()[2 * c]);
          assertEquals(a.xy()[2 * i + 1], m.ax()[2 * c + 1]);
          assertEquals(b.xy()[2 * j], m.bx()[2 * c]);
          assertEquals(b.xy()[2 * j + 1], m.bx()[2 * c + 1]);
        }
        if (sizes[0] >= 37) {
          assertTrue(m.count() >= sizes[0] / 2, what + ": " + m.count() + " matches");
        }
      }
    }
  }

  @Test
  void nearTiesAreSettledByTheExactSums() {
    // each row of a has two neighbours in b one float step apart in one coordinate: their squared
    // distances differ far below float precision, so only the exact sums order them (and the
    // ratio nearest / second nearest is within 1e-7 of 1)
    SplittableRandom r = new SplittableRandom(3);
    int d = 40;
    int n = 23;
    LocalFeatures a = features(r, n, d, null, 0);
    float[] bd = new float[2 * n * d];
    for (int i = 0; i < n; i++) {
      for (int k = 0; k < d; k++) {
        float v = a.descriptors()[i * d + k] + (float) (0.01 * r.nextGaussian());
        bd[2 * i * d + k] = v;
        bd[(2 * i + 1) * d + k] = v;
      }
      int k = r.nextInt(d);
      float v = bd[(2 * i + 1) * d + k];
      bd[(2 * i + 1) * d + k] = r.nextBoolean() ? Math.nextUp(v) : Math.nextDown(v);
    }
    LocalFeatures b = new LocalFeatures(2 * n, d, bd, new float[4 * n], new float[2 * n], new float[2 * n]);
    List<Float> refRatios = new ArrayList<>();
    List<int[]> ref = reference(a, b, 1.0, refRatios);
    PairMatch m = PairMatch.of(a, b, 1.0, null);
    assertEquals(n, ref.size(), "every row has a mutual nearest neighbour");
    assertEquals(ref.size(), m.count());
    for (int c = 0; c < ref.size(); c++) {
      assertEquals(ref.get(c)[1], m.bi()[c], "row " + c);
      assertEquals(refRatios.get(c), m.ratios()[c], "row " + c);
    }
    int nudgedNearer = 0;
    for (int c = 0; c < n; c++) {
      nudgedNearer += m.bi()[c] % 2;
    }
    assertTrue(nudgedNearer > 0 && nudgedNearer < n, "both copies win somewhere: " + nudgedNearer);
  }

  @Test
  void aSmallCaseByHand() {
    // a0 = (1, 0), a1 = (0, 1); b0 = (0.8, 0.6) is a0's nearest (squared distance 0.4) and
    // b1 = (0, -1) its second (2.0): ratio sqrt(0.2) = 0.447; a1's nearest is b0 too (0.8), but b0's
    // nearest is a0, so a1 has no mutual match
    LocalFeatures a = new LocalFeatures(2, 2, new float[] {1, 0, 0, 1}, new float[] {10, 20, 30, 40}, new float[2],
        new float[2]);
    LocalFeatures b = new LocalFeatures(2, 2, new float[] {0.8f, 0.6f, 0, -1}, new float[] {1, 2, 3, 4},
        new float[2], new float[2]);
    PairMatch m = PairMatch.of(a, b, 0.9, null);
    assertEquals(1, m.count());
    assertArrayEquals(new int[] {0}, m.ai());
    assertArrayEquals(new int[] {0}, m.bi());
    assertEquals((float) Math.sqrt(0.4 / 2.0), m.ratios()[0], 1e-6f);
    assertArrayEquals(new float[] {10, 20}, m.ax());
    assertArrayEquals(new float[] {1, 2}, m.bx());
    assertEquals(0, PairMatch.of(a, b, 0.4, null).count(), "a ratio of 0.4 refuses 0.447");
  }

  @Test
  void descriptorsOfOtherWidthsAreRefused() {
    LocalFeatures a = new LocalFeatures(1, 2, new float[2], new float[2], new float[1], new float[1]);
    LocalFeatures b = new LocalFeatures(1, 3, new float[3], new float[2], new float[1], new float[1]);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PairMatch.of(a, b, 0.9, null));
    assertTrue(e.getMessage().contains("2 and 3 dimensions"), e.getMessage());
  }
}
