package org.deephash.delf.geometry;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RansacTest {

  /** Correspondences: the first {@code inliers} follow {@code model}, the rest are outliers. */
  private record Data(double[] src, double[] dst, boolean[] truth) {}

  private static double[] apply(double[] m, double x, double y) {
    return new double[] {m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]};
  }

  /**
   * {@code n} points in a 640x480 image; {@code inliers} of them mapped by {@code model} plus
   * Gaussian noise of {@code noise} px, the others sent to random places at least {@code minMiss}
   * px from where the model puts them. Inliers and outliers are shuffled together.
   */
  private static Data make(double[] model, int n, int inliers, double noise, double minMiss, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    double[] src = new double[2 * n];
    double[] dst = new double[2 * n];
    boolean[] truth = new boolean[n];
    int[] order = new int[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = r.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    for (int k = 0; k < n; k++) {
      int i = order[k];
      double x = r.nextDouble(0, 640);
      double y = r.nextDouble(0, 480);
      double[] q = apply(model, x, y);
      src[2 * i] = x;
      src[2 * i + 1] = y;
      if (k < inliers) {
        truth[i] = true;
        dst[2 * i] = q[0] + noise * gaussian(r);
        dst[2 * i + 1] = q[1] + noise * gaussian(r);
      } else {
        double u, v;
        do {
          u = r.nextDouble(-100, 740);
          v = r.nextDouble(-100, 580);
        } while (Math.hypot(u - q[0], v - q[1]) < minMiss);
        dst[2 * i] = u;
        dst[2 * i + 1] = v;
      }
    }
    return new Data(src, dst, truth);
  }

  private static double gaussian(SplittableRandom r) {
    // Box-Muller; only the test's noise, so the simple form is enough
    return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
  }

  private static final double[] MODEL = {0.8, -0.35, 40, 0.3, 0.9, -25};

  /**
   * 30 correspondences follow a plausible map and 45 a mirror: the mirror has more inliers, so
   * RANSAC returns it, and a check of the result afterwards leaves nothing; rejecting inadmissible
   * models while sampling returns the plausible one with exactly its 30 inliers.
   */
  @Test
  void anInadmissibleModelDoesNotHideAnAdmissibleOne() {
    double[] mirror = {-1, 0, 640, 0, 1, 0};
    Data good = make(MODEL, 30, 30, 0, 10, 21);
    Data bad = make(mirror, 45, 45, 0, 10, 22);
    double[] src = new double[150];
    double[] dst = new double[150];
    System.arraycopy(good.src, 0, src, 0, 60);
    System.arraycopy(bad.src, 0, src, 60, 90);
    System.arraycopy(good.dst, 0, dst, 0, 60);
    System.arraycopy(bad.dst, 0, dst, 60, 90);
    java.util.function.Predicate<double[]> noMirror = m -> m[0] * m[4] - m[1] * m[3] > 0;
    Ransac.Options o = Ransac.Options.defaults().withMinInliers(6);
    Ransac.AffineFit any = Ransac.fitAffine(src, dst, o).orElseThrow();
    assertEquals(45, any.inlierCount(), "unrestricted: the mirror");
    assertTrue(!noMirror.test(any.model()));
    Ransac.AffineFit fit = Ransac.fitAffine(src, dst, o, noMirror).orElseThrow();
    assertEquals(30, fit.inlierCount());
    for (int i = 0; i < 75; i++) {
      assertEquals(i < 30, fit.isInlier(i), "correspondence " + i);
    }
    assertArrayEquals(MODEL, fit.model(), 1e-6);
    assertTrue(Ransac.fitAffine(src, dst, o, m -> false).isEmpty(), "nothing admissible: no model");
  }

  @ParameterizedTest(name = "n={0} seed={1}")
  @CsvSource({"8, 1", "20, 2", "100, 3", "207, 4", "702, 5"})
  void recoversAnExactAffineMapWithHalfOutliers(int n, long seed) {
    Data d = make(MODEL, n, n / 2, 0, 10, seed);
    Ransac.AffineFit fit = Ransac.fitAffine(d.src, d.dst, Ransac.Options.defaults().withMinInliers(3).withSeed(seed))
        .orElseThrow(() -> new AssertionError("no model, seed " + seed));
    assertArrayEquals(MODEL, fit.model(), 1e-9, "seed " + seed);
    assertArrayEquals(d.truth, fit.inliers(), "seed " + seed);
    assertEquals(n / 2, fit.inlierCount());
  }

  @Test
  void recoversANoisyAffineMapAndExactlyTheTrueInliers() {
    for (long seed = 10; seed < 20; seed++) {
      Data d = make(MODEL, 300, 150, 0.5, 15, seed);
      Ransac.AffineFit fit = Ransac.fitAffine(d.src, d.dst, Ransac.Options.defaults().withSeed(seed)).orElseThrow();
      // 0.5 px noise stays within 4 px with overwhelming probability (8 sigma)
      assertArrayEquals(d.truth, fit.inliers(), "seed " + seed);
      double[] m = fit.model();
      for (double[] p : new double[][] {{0, 0}, {640, 0}, {0, 480}, {640, 480}}) {
        double[] want = apply(MODEL, p[0], p[1]);
        double[] got = apply(m, p[0], p[1]);
        assertTrue(Math.hypot(want[0] - got[0], want[1] - got[1]) < 0.5,
            "seed " + seed + ": corner " + Arrays.toString(p) + " off by more than 0.5 px");
      }
    }
  }

  @Test
  void theModelIsTheLeastSquaresFitToTheReturnedInliers() {
    Data d = make(MODEL, 200, 120, 1.0, 15, 77);
    Ransac.AffineFit fit = Ransac.fitAffine(d.src, d.dst, Ransac.Options.defaults().withSeed(77)).orElseThrow();
    assertArrayEquals(Ransac.leastSquaresAffine(d.src, d.dst, fit.inliers()), fit.model(), 0);
    int count = 0;
    for (boolean b : fit.inliers()) {
      count += b ? 1 : 0;
    }
    assertEquals(count, fit.inlierCount());
  }

  @Test
  void noModelWhenTooFewCorrespondencesAgree() {
    // 5 consistent correspondences among 30: below a minimum of 6
    Data d = make(MODEL, 30, 5, 0, 10, 3);
    Ransac.Options o = Ransac.Options.defaults().withMinInliers(6).withTrials(5000);
    assertEquals(Optional.empty(), Ransac.fitAffine(d.src, d.dst, o));
    // ... and found once the minimum allows it
    Ransac.AffineFit fit = Ransac.fitAffine(d.src, d.dst, o.withMinInliers(5)).orElseThrow();
    assertArrayEquals(d.truth, fit.inliers());
  }

  @Test
  void fewerThanThreePointsGiveNoModel() {
    Ransac.Options o = Ransac.Options.defaults().withMinInliers(3);
    assertEquals(Optional.empty(), Ransac.fitAffine(new double[0], new double[0], o));
    assertEquals(Optional.empty(), Ransac.fitAffine(new double[] {1, 2}, new double[] {3, 4}, o));
    assertEquals(Optional.empty(), Ransac.fitAffine(new double[] {1, 2, 5, 6}, new double[] {3, 4, 7, 9}, o));
    assertEquals(null, Ransac.leastSquaresAffine(new double[] {1, 2, 5, 6}, new double[] {3, 4, 7, 9}, null));
  }

  @Test
  void collinearPointsGiveNoModel() {
    int n = 50;
    double[] src = new double[2 * n];
    double[] dst = new double[2 * n];
    for (int i = 0; i < n; i++) {
      src[2 * i] = 3 * i;
      src[2 * i + 1] = 2 * i + 7; // all on one line
      double[] q = apply(MODEL, src[2 * i], src[2 * i + 1]);
      dst[2 * i] = q[0];
      dst[2 * i + 1] = q[1];
    }
    Ransac.Options o = Ransac.Options.defaults().withMinInliers(3);
    assertEquals(Optional.empty(), Ransac.fitAffine(src, dst, o));
    assertEquals(null, Ransac.leastSquaresAffine(src, dst, null));
    // collinear destinations with spread-out sources: a singular map, also refused
    Data d = make(MODEL, n, n, 0, 0, 9);
    double[] flat = d.dst.clone();
    for (int i = 0; i < n; i++) {
      flat[2 * i + 1] = 5;
    }
    assertEquals(Optional.empty(), Ransac.fitAffine(d.src, flat, o));
    // every point identical
    double[] same = new double[2 * n];
    Arrays.fill(same, 4.0);
    assertEquals(Optional.empty(), Ransac.fitAffine(same, same, o));
  }

  @Test
  void malformedInputIsRejectedWithAMessageThatNamesThePoint() {
    Data d = make(MODEL, 10, 10, 0, 0, 1);
    double[] bad = d.src.clone();
    bad[7] = Double.NaN;
    IllegalArgumentException e = assertThrows(
        IllegalArgumentException.class, () -> Ransac.fitAffine(bad, d.dst, Ransac.Options.defaults()));
    assertTrue(e.getMessage().contains("src point 3"), e.getMessage());
    double[] inf = d.dst.clone();
    inf[0] = Double.POSITIVE_INFINITY;
    e = assertThrows(IllegalArgumentException.class, () -> Ransac.fitAffine(d.src, inf, Ransac.Options.defaults()));
    assertTrue(e.getMessage().contains("dst point 0"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Ransac.fitAffine(d.src, Arrays.copyOf(d.dst, 18), Ransac.Options.defaults()));
    assertTrue(e.getMessage().contains("same number of points"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> Ransac.fitAffine(new double[3], new double[3], Ransac.Options.defaults()));
    assertThrows(IllegalArgumentException.class,
        () -> Ransac.leastSquaresAffine(d.src, d.dst, new boolean[3]));
  }

  @Test
  void optionsAreValidated() {
    assertThrows(IllegalArgumentException.class, () -> new Ransac.Options(0, 4, 6, 0));
    assertThrows(IllegalArgumentException.class, () -> new Ransac.Options(10, 0, 6, 0));
    assertThrows(IllegalArgumentException.class, () -> new Ransac.Options(10, Double.NaN, 6, 0));
    assertThrows(IllegalArgumentException.class, () -> new Ransac.Options(10, 4, 2, 0));
  }

  @Test
  void sameSeedSameResult() {
    // noisy, 70% outliers: different seeds may settle on slightly different consensus sets
    Data d = make(MODEL, 400, 120, 2.5, 5, 21);
    Ransac.Options o = Ransac.Options.defaults().withTrials(200).withSeed(1234);
    Ransac.AffineFit a = Ransac.fitAffine(d.src, d.dst, o).orElseThrow();
    Ransac.AffineFit b = Ransac.fitAffine(d.src, d.dst, o).orElseThrow();
    assertEquals(a, b);
    assertArrayEquals(a.model(), b.model(), 0);
    assertArrayEquals(a.inliers(), b.inliers());
  }

  @Test
  void leastSquaresMatchesTheNormalEquations() {
    SplittableRandom r = new SplittableRandom(3);
    for (int trial = 0; trial < 20; trial++) {
      int n = 3 + r.nextInt(200);
      Data d = make(MODEL, n, n, 3.0, 0, 100 + trial);
      boolean[] mask = new boolean[n];
      int on = 0;
      for (int i = 0; i < n; i++) {
        mask[i] = i < 3 || r.nextDouble() < 0.7;
        on += mask[i] ? 1 : 0;
      }
      double[] want = normalEquations(d.src, d.dst, mask);
      double[] got = Ransac.leastSquaresAffine(d.src, d.dst, mask);
      assertArrayEquals(want, got, 1e-8, "trial " + trial + ", " + on + " of " + n + " points");
    }
  }

  @Test
  void leastSquaresStaysAccurateFarFromTheOrigin() {
    // pixel coordinates of a tile far from the origin: the centred solution should still
    // reproduce an exact map to near machine precision
    double[] model = {1.01, 0.02, -3000, -0.015, 0.99, 7000};
    int n = 100;
    SplittableRandom r = new SplittableRandom(8);
    double[] src = new double[2 * n];
    double[] dst = new double[2 * n];
    for (int i = 0; i < n; i++) {
      src[2 * i] = 1e5 + r.nextDouble(0, 50);
      src[2 * i + 1] = 2e5 + r.nextDouble(0, 50);
      double[] q = apply(model, src[2 * i], src[2 * i + 1]);
      dst[2 * i] = q[0];
      dst[2 * i + 1] = q[1];
    }
    double[] got = Ransac.leastSquaresAffine(src, dst, null);
    for (int i = 0; i < n; i++) {
      double[] q = apply(got, src[2 * i], src[2 * i + 1]);
      assertEquals(dst[2 * i], q[0], 1e-6);
      assertEquals(dst[2 * i + 1], q[1], 1e-6);
    }
  }

  /**
   * Reference: the textbook normal equations (A^T A) p = A^T b with rows [x y 1], solved for the
   * x and y outputs separately by Gaussian elimination, without centring.
   */
  private static double[] normalEquations(double[] src, double[] dst, boolean[] mask) {
    double[][] ata = new double[3][3];
    double[] atbx = new double[3];
    double[] atby = new double[3];
    for (int i = 0; i < mask.length; i++) {
      if (!mask[i]) {
        continue;
      }
      double[] row = {src[2 * i], src[2 * i + 1], 1};
      for (int a = 0; a < 3; a++) {
        for (int b = 0; b < 3; b++) {
          ata[a][b] += row[a] * row[b];
        }
        atbx[a] += row[a] * dst[2 * i];
        atby[a] += row[a] * dst[2 * i + 1];
      }
    }
    double[] px = gauss(ata, atbx);
    double[] py = gauss(ata, atby);
    return new double[] {px[0], px[1], px[2], py[0], py[1], py[2]};
  }

  private static double[] gauss(double[][] m, double[] rhs) {
    int n = rhs.length;
    double[][] a = new double[n][n + 1];
    for (int i = 0; i < n; i++) {
      System.arraycopy(m[i], 0, a[i], 0, n);
      a[i][n] = rhs[i];
    }
    for (int c = 0; c < n; c++) {
      int p = c;
      for (int i = c + 1; i < n; i++) {
        if (Math.abs(a[i][c]) > Math.abs(a[p][c])) {
          p = i;
        }
      }
      double[] t = a[c];
      a[c] = a[p];
      a[p] = t;
      for (int i = 0; i < n; i++) {
        if (i != c) {
          double f = a[i][c] / a[c][c];
          for (int k = c; k <= n; k++) {
            a[i][k] -= f * a[c][k];
          }
        }
      }
    }
    double[] x = new double[n];
    for (int i = 0; i < n; i++) {
      x[i] = a[i][n] / a[i][i];
    }
    return x;
  }
}
