package org.deephash.pq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class KMeansTest {

  /**
   * The algorithm exactly as KMeans's Javadoc states it, written plainly and independently: the
   * library must agree with it bit for bit.
   */
  static final class Reference {
    float[] centroids;
    int[] assign;
    int iterations;
    int reseeded;

    static float dist(float[] a, int ao, float[] b, int bo, int d) {
      float s = 0f;
      for (int j = 0; j < d; j++) {
        float t = a[ao + j] - b[bo + j];
        s += t * t;
      }
      return s;
    }

    static int nearest(float[] x, int xo, float[] c, int k, int d) {
      int best = -1;
      float bestDist = 0;
      for (int i = 0; i < k; i++) {
        float e = dist(x, xo, c, i * d, d);
        if (best < 0 || e < bestDist) {
          best = i;
          bestDist = e;
        }
      }
      return best;
    }

    Reference(float[] x, int n, int d, int k, int maxIter, long seed) {
      SplittableRandom rnd = new SplittableRandom(seed);
      centroids = new float[k * d];
      int[] chosen = new int[k];
      chosen[0] = rnd.nextInt(n);
      for (int c = 1; c < k; c++) {
        double[] dd = new double[n];
        double total = 0;
        for (int i = 0; i < n; i++) {
          double min = Double.POSITIVE_INFINITY;
          for (int e = 0; e < c; e++) {
            min = Math.min(min, dist(x, i * d, x, chosen[e] * d, d));
          }
          dd[i] = min;
          total += min;
        }
        if (total == 0) {
          chosen[c] = rnd.nextInt(n);
          continue;
        }
        double r = rnd.nextDouble() * total;
        double run = 0;
        int pick = -1;
        for (int i = 0; i < n; i++) {
          if (dd[i] > 0) {
            pick = i;
            run += dd[i];
            if (run > r) {
              break;
            }
          }
        }
        chosen[c] = pick;
      }
      for (int c = 0; c < k; c++) {
        System.arraycopy(x, chosen[c] * d, centroids, c * d, d);
      }
      assign = new int[n];
      for (int i = 0; i < n; i++) {
        assign[i] = nearest(x, i * d, centroids, k, d);
      }
      while (iterations < maxIter) {
        int[] count = new int[k];
        for (int c = 0; c < k; c++) {
          double[] sum = new double[d];
          for (int i = 0; i < n; i++) {
            if (assign[i] == c) {
              count[c]++;
              for (int j = 0; j < d; j++) {
                sum[j] += x[i * d + j];
              }
            }
          }
          if (count[c] > 0) {
            for (int j = 0; j < d; j++) {
              centroids[c * d + j] = (float) (sum[j] / count[c]);
            }
          }
        }
        for (int c = 0; c < k; c++) {
          if (count[c] == 0) {
            int far = -1;
            float farDist = 0;
            for (int i = 0; i < n; i++) {
              if (count[assign[i]] < 2) {
                continue;
              }
              float e = dist(x, i * d, centroids, assign[i] * d, d);
              if (far < 0 || e > farDist) {
                far = i;
                farDist = e;
              }
            }
            count[assign[far]]--;
            assign[far] = c;
            count[c] = 1;
            System.arraycopy(x, far * d, centroids, c * d, d);
            reseeded++;
          }
        }
        iterations++;
        boolean changed = false;
        for (int i = 0; i < n; i++) {
          int a = nearest(x, i * d, centroids, k, d);
          if (a != assign[i]) {
            changed = true;
            assign[i] = a;
          }
        }
        if (!changed) {
          break;
        }
      }
    }
  }

  /** n points around a few Gaussian blobs of different sizes. */
  static float[] blobs(long seed, int n, int d, int blobs) {
    SplittableRandom rnd = new SplittableRandom(seed);
    float[] centers = new float[blobs * d];
    for (int i = 0; i < centers.length; i++) {
      centers[i] = (float) (rnd.nextGaussian() * 5);
    }
    float[] x = new float[n * d];
    for (int i = 0; i < n; i++) {
      int b = rnd.nextInt(blobs);
      double scale = 0.3 + b % 3;
      for (int j = 0; j < d; j++) {
        x[i * d + j] = (float) (centers[b * d + j] + rnd.nextGaussian() * scale);
      }
    }
    return x;
  }

  static void assertSame(Reference ref, KMeans.Result r, String what) {
    assertArrayEquals(ref.centroids, r.centroids(), what + ": centroids");
    assertArrayEquals(ref.assign, r.assignment(), what + ": assignment");
    assertEquals(ref.iterations, r.iterations(), what + ": iterations");
    assertEquals(ref.reseeded, r.reseeded(), what + ": re-seeded clusters");
  }

  @ParameterizedTest(name = "n={0} d={1} k={2} iters={3} seed={4}")
  @CsvSource({
    "1, 1, 1, 5, 1",
    "7, 3, 7, 10, 2",
    "13, 1, 4, 10, 3",
    "207, 6, 9, 25, 4",
    "702, 13, 32, 30, 5",
    "500, 40, 16, 0, 6",
    "1000, 4, 64, 50, 7",
  })
  void matchesReferenceImplementation(int n, int d, int k, int iters, long seed) {
    float[] x = blobs(seed * 31, n, d, 5);
    Reference ref = new Reference(x, n, d, k, iters, seed);
    String what = "n=" + n + " d=" + d + " k=" + k + " seed=" + seed;
    assertSame(ref, KMeans.train(x, n, d, k, iters, seed), what);
    assertSame(ref, KMeans.train(x, n, d, k, iters, seed, 3), what + " on 3 threads");
  }

  /**
   * Lloyd empties a cluster on these inputs (n standard Gaussian scalars drawn from {@code new
   * SplittableRandom(seed)}, clustered with the same seed): found by scanning seeds 0-1999, where
   * they are the only ones that do for their (n, k). The re-seeding must follow the reference.
   */
  @ParameterizedTest(name = "n={0} k={1} seed={2}")
  @CsvSource({"16, 6, 1541", "20, 8, 795", "30, 8, 1314"})
  void reseedsAClusterThatLloydEmptied(int n, int k, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    Reference ref = new Reference(x, n, 1, k, 50, seed);
    KMeans.Result r = KMeans.train(x, n, 1, k, 50, seed);
    assertSame(ref, r, "seed " + seed);
    assertTrue(r.reseeded() > 0, "no cluster was emptied; the re-seeding path went untested");
    int[] sizes = new int[k];
    for (int a : r.assignment()) {
      sizes[a]++;
    }
    for (int c = 0; c < k; c++) {
      assertTrue(sizes[c] > 0, "cluster " + c + " is empty at the end");
    }
  }

  @Test
  void moreClustersThanDistinctPoints() {
    // 3 distinct points repeated: k-means++ must fall back to uniform picks and empty clusters follow.
    int n = 12;
    int d = 2;
    float[] x = new float[n * d];
    for (int i = 0; i < n; i++) {
      x[i * d] = i % 3;
      x[i * d + 1] = -(i % 3);
    }
    for (long seed = 0; seed < 10; seed++) {
      Reference ref = new Reference(x, n, d, 5, 8, seed);
      KMeans.Result r = KMeans.train(x, n, d, 5, 8, seed);
      assertSame(ref, r, "seed " + seed);
      assertTrue(r.reseeded() > 0);
    }
  }

  @Test
  void reseedingOnSeveralThreadsMatchesTheReference() {
    // 150 distinct points, each repeated, and more clusters than distinct points: large enough
    // to run on the pool, with empty clusters in every iteration.
    int n = 1200;
    int d = 2;
    int k = 200;
    float[] distinct = blobs(41, 150, d, 4);
    float[] x = new float[n * d];
    for (int i = 0; i < n; i++) {
      System.arraycopy(distinct, (i * 37 % 150) * d, x, i * d, d);
    }
    Reference ref = new Reference(x, n, d, k, 6, 8L);
    assertTrue(ref.reseeded > 0);
    assertSame(ref, KMeans.train(x, n, d, k, 6, 8L, 1), "1 thread");
    assertSame(ref, KMeans.train(x, n, d, k, 6, 8L, 4), "4 threads");
  }

  @Test
  void assignmentIsNearestCentroidAndDeterministic() {
    float[] x = blobs(99, 3000, 8, 10);
    KMeans.Result a = KMeans.train(x, 3000, 8, 20, 15, 1234L, 1);
    KMeans.Result b = KMeans.train(x, 3000, 8, 20, 15, 1234L, 4);
    assertArrayEquals(a.centroids(), b.centroids());
    assertArrayEquals(a.assignment(), b.assignment());
    float[] c = a.centroids();
    int[] as = a.assignment();
    for (int i = 0; i < 3000; i++) {
      assertEquals(Reference.nearest(x, i * 8, c, 20, 8), as[i], "point " + i);
    }
  }

  @Test
  void rejectsBadArguments() {
    float[] x = new float[20];
    assertMessage(() -> KMeans.train(x, 10, 2, 11, 5, 1), "k must be in [1, n = 10]");
    assertMessage(() -> KMeans.train(x, 10, 2, 0, 5, 1), "k must be in [1, n = 10]");
    assertMessage(() -> KMeans.train(x, 10, 3, 2, 5, 1), "data holds 20 floats, but n * d = 10 * 3 = 30");
    assertMessage(() -> KMeans.train(null, 10, 2, 2, 5, 1), "data must not be null");
    assertMessage(() -> KMeans.train(x, 0, 2, 1, 5, 1), "n must be >= 1");
    assertMessage(() -> KMeans.train(x, 10, 0, 1, 5, 1), "d (the vector dimension) must be in [1,");
    assertMessage(() -> KMeans.train(x, 10, 2, 2, -1, 1), "maxIter must be >= 0");
    assertMessage(() -> KMeans.train(x, 10, 2, 2, 5, 1, 0), "threads must be >= 1");
    float[] bad = new float[20];
    bad[7] = Float.NaN;
    assertMessage(() -> KMeans.train(bad, 10, 2, 2, 5, 1), "data row 3, column 1 is NaN");
  }

  static void assertMessage(org.junit.jupiter.api.function.Executable call, String fragment) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' lacks '" + fragment + "'");
  }
}
