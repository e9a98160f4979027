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

  public int inliers() {
    return fit.map(Ransac.AffineFit::inlierCount).orElse(0);
  }
}
