package org.deephash.delf.search;

import java.util.Optional;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.geometry.Ransac;

/**
 * Matching two images directly (no index): mutual nearest neighbours between their L2-normalised
 * descriptors that also pass the ratio test, then RANSAC on an affine model.
 *
 * @param ax query keypoints (x, y pairs) of the {@code count} putative correspondences
 * @param bx their matches in the other image
 * @param fit the affine model and its inliers, when RANSAC found one
 * @param ai the index in {@code a} of each correspondence's keypoint
 * @param bi the index in {@code b} of its match
 * @param ratios each correspondence's distance ratio (nearest over second nearest in {@code b})
 */
public record PairMatch(int count, float[] ax, float[] bx, Optional<Ransac.AffineFit> fit, int[] ai, int[] bi,
    float[] ratios) {

  /**
   * Matches {@code a} against {@code b}; {@code ratio} is Lowe's ratio on distances (0.9 is
   * lenient); {@code ransac} null leaves the correspondences unverified.
   */
  public static PairMatch of(LocalFeatures a, LocalFeatures b, double ratio, Ransac.Options ransac) {
    int d = a.dim();
    if (b.dim() != d) {
      throw new IllegalArgumentException("descriptors of " + a.dim() + " and " + b.dim() + " dimensions cannot be matched");
    }
    int[] bestB = new int[a.count()];
    double[] best = new double[a.count()];
    double[] second = new double[a.count()];
    int[] bestA = new int[b.count()];
    double[] bestOfB = new double[b.count()];
    nearest(a, b, bestB, best, second, bestA, bestOfB);
    int n = 0;
    float[] ax = new float[2 * a.count()];
    float[] bx = new float[2 * a.count()];
    int[] ai = new int[a.count()];
    int[] bi = new int[a.count()];
    float[] ratios = new float[a.count()];
    for (int i = 0; i < a.count(); i++) {
      int j = bestB[i];
      if (j >= 0 && bestA[j] == i && Math.sqrt(best[i]) <= ratio * Math.sqrt(second[i])) {
        ax[2 * n] = a.xy()[2 * i];
        ax[2 * n + 1] = a.xy()[2 * i + 1];
        bx[2 * n] = b.xy()[2 * j];
        bx[2 * n + 1] = b.xy()[2 * j + 1];
        ai[n] = i;
        bi[n] = j;
        ratios[n] = second[i] == Double.MAX_VALUE ? 0f : (float) Math.sqrt(best[i] / second[i]);
        n++;
      }
    }
    ax = java.util.Arrays.copyOf(ax, 2 * n);
    bx = java.util.Arrays.copyOf(bx, 2 * n);
    Optional<Ransac.AffineFit> fit = Optional.empty();
    if (n >= 3 && ransac != null) {
      double[] s = new double[2 * n];
      double[] t = new double[2 * n];
      for (int i = 0; i < 2 * n; i++) {
        s[i] = ax[i];
        t[i] = bx[i];
      }
      fit = Ransac.fitAffine(s, t, ransac).filter(f -> DelfDatabase.plausible(f.model()));
    }
    return new PairMatch(n, ax, bx, fit, java.util.Arrays.copyOf(ai, n), java.util.Arrays.copyOf(bi, n),
        java.util.Arrays.copyOf(ratios, n));
  }

  /**
   * How far the float estimate of a squared distance (float squares summed in float, {@link
   * #estimate}) can be from the exact one, relative to it: d + 1 roundings of 2^-24 for d = dim
   * terms (Higham's gamma), taken as 2^-24 times twice that for room. Dimensions past 10^5 are
   * refused rather than trusted.
   */
  static double relativeError(int dim) {
    if (dim > 100_000) {
      throw new IllegalArgumentException("descriptors of " + dim + " dimensions are too wide to match");
    }
    double g = 2.0 * (dim + 1) * 0x1p-24;
    return g / (1 - g);
  }

  /**
   * Fills each row of a's nearest and second nearest squared distance to b (and the nearest's
   * row, the earliest among equals) and each row of b's nearest in a: exactly what one double sum
   * per pair in dimension order, pairs in row order, gives (the reference of PairMatchTest). Two
   * passes keep it exact and fast: float estimates of every pair ({@link #estimate}: b transposed,
   * four rows of a at a time, in loops the JIT vectorises), bound which pairs can be a row's nearest or
   * second nearest, or a column's nearest (those within the estimates' relative error {@link
   * #relativeError} of the row's second estimate or the column's first); only those few are summed
   * again exactly.
   */
  private static void nearest(LocalFeatures a, LocalFeatures b, int[] bestB, double[] best, double[] second,
      int[] bestA, double[] bestOfB) {
    int na = a.count();
    int nb = b.count();
    int d = a.dim();
    float[] ad = a.descriptors();
    float[] bd = b.descriptors();
    java.util.Arrays.fill(bestB, -1);
    java.util.Arrays.fill(best, Double.MAX_VALUE);
    java.util.Arrays.fill(second, Double.MAX_VALUE);
    java.util.Arrays.fill(bestOfB, Double.MAX_VALUE);
    if (na == 0 || nb == 0) {
      return;
    }
    float[] est = estimate(ad, na, bd, nb, d);
    double e = relativeError(d);
    // |est - exact| <= e * exact for every pair, so a pair can be within x of the exact minimum only
    // if its estimate is within (1 + e) / (1 - e) of the matching estimate; the absolute term
    // covers float squares that underflow to 0
    double grow = (1 + e) / (1 - e);
    double tiny = 1e-30;
    float[] colMin = new float[nb];
    java.util.Arrays.fill(colMin, Float.POSITIVE_INFINITY);
    for (int i = 0; i < na; i++) {
      int row = i * nb;
      float m1 = Float.POSITIVE_INFINITY;
      float m2 = Float.POSITIVE_INFINITY;
      for (int j = 0; j < nb; j++) {
        float v = est[row + j];
        colMin[j] = Math.min(colMin[j], v);
        if (v < m2) {
          if (v < m1) {
            m2 = m1;
            m1 = v;
          } else {
            m2 = v;
          }
        }
      }
      float limit = upper(m2, grow, tiny);
      for (int j = 0; j < nb; j++) {
        if (est[row + j] <= limit) {
          double s = exact(ad, i, bd, j, d);
          if (s < best[i]) {
            second[i] = best[i];
            best[i] = s;
            bestB[i] = j;
          } else if (s < second[i]) {
            second[i] = s;
          }
        }
      }
    }
    float[] colLimit = new float[nb];
    for (int j = 0; j < nb; j++) {
      colLimit[j] = upper(colMin[j], grow, tiny);
    }
    for (int i = 0; i < na; i++) {
      int row = i * nb;
      for (int j = 0; j < nb; j++) {
        if (est[row + j] <= colLimit[j]) {
          double s = exact(ad, i, bd, j, d);
          if (s < bestOfB[j]) {
            bestOfB[j] = s;
            bestA[j] = i;
          }
        }
      }
    }
  }

  /** {@code v * grow + tiny} rounded up to a float (infinite stays infinite). */
  private static float upper(float v, double grow, double tiny) {
    return v == Float.POSITIVE_INFINITY ? v : Math.nextUp((float) (v * grow + tiny));
  }

  /**
   * Float estimates of all squared distances, row-major (a's row i, b's row j at i * nb + j). b is
   * transposed into one array per dimension and four rows of a are summed at a time into arrays
   * indexed like it: loops of this shape (same index in every array) are the ones C2 vectorises.
   */
  static float[] estimate(float[] ad, int na, float[] bd, int nb, int d) {
    float[][] bt = new float[d][nb];
    for (int j = 0; j < nb; j++) {
      for (int k = 0; k < d; k++) {
        bt[k][j] = bd[j * d + k];
      }
    }
    float[] est = new float[na * nb];
    float[] s0 = new float[nb];
    float[] s1 = new float[nb];
    float[] s2 = new float[nb];
    float[] s3 = new float[nb];
    int i = 0;
    for (; i + 4 <= na; i += 4) {
      java.util.Arrays.fill(s0, 0f);
      java.util.Arrays.fill(s1, 0f);
      java.util.Arrays.fill(s2, 0f);
      java.util.Arrays.fill(s3, 0f);
      for (int k = 0; k < d; k++) {
        float x0 = ad[i * d + k];
        float x1 = ad[(i + 1) * d + k];
        float x2 = ad[(i + 2) * d + k];
        float x3 = ad[(i + 3) * d + k];
        float[] bk = bt[k];
        for (int j = 0; j < nb; j++) {
          float y = bk[j];
          float t0 = x0 - y;
          float t1 = x1 - y;
          float t2 = x2 - y;
          float t3 = x3 - y;
          s0[j] += t0 * t0;
          s1[j] += t1 * t1;
          s2[j] += t2 * t2;
          s3[j] += t3 * t3;
        }
      }
      System.arraycopy(s0, 0, est, i * nb, nb);
      System.arraycopy(s1, 0, est, (i + 1) * nb, nb);
      System.arraycopy(s2, 0, est, (i + 2) * nb, nb);
      System.arraycopy(s3, 0, est, (i + 3) * nb, nb);
    }
    for (; i < na; i++) {
      java.util.Arrays.fill(s0, 0f);
      for (int k = 0; k < d; k++) {
        float x = ad[i * d + k];
        float[] bk = bt[k];
        for (int j = 0; j < nb; j++) {
          float t = x - bk[j];
          s0[j] += t * t;
        }
      }
      System.arraycopy(s0, 0, est, i * nb, nb);
    }
    return est;
  }

  /** The exact squared distance of the reference: float differences, squared and summed in double in dimension order. */
  private static double exact(float[] ad, int i, float[] bd, int j, int d) {
    int ia = i * d;
    int jb = j * d;
    double s = 0;
    for (int k = 0; k < d; k++) {
      double t = ad[ia + k] - bd[jb + k];
      s += t * t;
    }
    return s;
  }

  public int inliers() {
    return fit.map(Ransac.AffineFit::inlierCount).orElse(0);
  }
}
