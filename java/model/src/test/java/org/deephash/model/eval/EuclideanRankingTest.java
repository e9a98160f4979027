package org.deephash.model.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** ES full-list mAP against a direct sort of every distance. */
class EuclideanRankingTest {

  @Test
  void floatsSortAsTheirIntKeys() {
    float[] v = {-3f, -0.5f, -0f, 0f, 1e-30f, 0.5f, 2f, Float.MAX_VALUE};
    for (int i = 1; i < v.length; i++) {
      assertTrue(EuclideanRanking.sortable(v[i - 1]) <= EuclideanRanking.sortable(v[i]), v[i - 1] + " vs " + v[i]);
    }
    assertEquals(EuclideanRanking.sortable(-0f), EuclideanRanking.sortable(0f));
  }

  @Test
  void averagePrecisionOfAHandRanking() {
    // distances 0.3, 0.1, 0.2, 0.1 -> order 1, 3, 2, 0 (ties by index); labels 0 1 0 0 for label 0:
    // relevance 0 1 1 1 -> AP = (1/2 + 2/3 + 3/4) / 3.
    int[] labels = {0, 1, 0, 0};
    double ap = EuclideanRanking.averagePrecision(new float[] {0.3f, 0.1f, 0.2f, 0.1f}, new int[] {0, 1, 0, 0}, 0,
        EuclideanRanking.labelCounts(labels), new long[4]);
    // order by (d, index): 1 (0.1), 3 (0.1), 2 (0.2), 0 (0.3) -> labels 1, 0, 0, 0 -> relevance 0 1 1 1.
    assertEquals((1 / 2.0 + 2 / 3.0 + 3 / 4.0) / 3, ap, 1e-12);
  }

  @Test
  void meanAveragePrecisionMatchesADirectSort() {
    SplittableRandom r = new SplittableRandom(11);
    int n = 700;
    int q = 300; // more than one block of queries
    int dim = 5;
    float[] db = new float[n * dim];
    int[] dl = new int[n];
    for (int i = 0; i < n; i++) {
      dl[i] = r.nextInt(4);
      for (int j = 0; j < dim; j++) {
        db[i * dim + j] = dl[i] * 0.3f + (float) r.nextGaussian();
      }
    }
    float[] qf = new float[q * dim];
    int[] ql = new int[q];
    for (int i = 0; i < q; i++) {
      ql[i] = r.nextInt(4);
      for (int j = 0; j < dim; j++) {
        qf[i * dim + j] = ql[i] * 0.3f + (float) r.nextGaussian();
      }
    }
    double expected = 0;
    for (int i = 0; i < q; i++) {
      double[] d = new double[n];
      Integer[] order = new Integer[n];
      for (int k = 0; k < n; k++) {
        order[k] = k;
        for (int j = 0; j < dim; j++) {
          double t = qf[i * dim + j] - db[k * dim + j];
          d[k] += t * t;
        }
      }
      Arrays.sort(order, (a, b) -> d[a] != d[b] ? Double.compare(d[a], d[b]) : Integer.compare(a, b));
      boolean[] rel = new boolean[n];
      int total = 0;
      for (int k = 0; k < n; k++) {
        rel[k] = dl[order[k]] == ql[i];
        total += rel[k] ? 1 : 0;
      }
      expected += Metrics.averagePrecision(rel, total);
    }
    expected /= q;
    double got = EuclideanRanking.meanAveragePrecision(db, dl, qf, ql, dim, null);
    // Gaussian features: no two distances of a query are within float rounding of each other, so
    // the float ranking is the exact one except for the rare near-tie; allow for one swap.
    assertEquals(expected, got, 1e-4);
  }
}
