package org.deephash.delf.search;

/**
 * How far a RANSAC model's inliers are beyond what chance gives, the score verification ranks by.
 *
 * <p>Raw inlier counts are not comparable between image pairs: a pair with many putative matches
 * spread over a small area reaches many inliers by chance alone. This is the a-contrario
 * significance of the model (Moisan and Stival's number of false alarms, as in ORSA / AC-RANSAC):
 * if the {@code n} putative matches were unrelated, each would land within the inlier threshold
 * {@code t} of where a model puts it with probability {@code p = pi t^2 / A}, {@code A} the area
 * that the image's keypoints cover; a model fitted to 3 of them then has {@code k} or more inliers
 * among the other {@code n - 3} about {@code NFA = (n - 3) C(n, k) C(k, 3) p^(k - 3)} times over
 * the models RANSAC could have tried. The significance is {@code -ln NFA}, floored at 0: 0 for
 * what chance explains, growing by about {@code ln(1 / p)} with each further inlier.
 *
 * <pre>{@code
 * double p = Significance.chance(6.0, 250 * 170);          // 6 px threshold, keypoints over 250 x 170 px
 * double s = Significance.of(80, 20, p);                    // 80 matches, 20 inliers: about 46.7
 * }</pre>
 */
public final class Significance {
  private Significance() {}

  /** Upper bound of {@link #chance}: an area smaller than twice the threshold disc says little. */
  public static final double MAX_CHANCE = 0.5;

  /**
   * The probability that an unrelated match lands within {@code thresholdPx} of a given point of an
   * image whose keypoints cover {@code areaPx} square pixels: the disc's share of that area, at most
   * {@link #MAX_CHANCE}.
   */
  public static double chance(double thresholdPx, double areaPx) {
    if (!(thresholdPx > 0) || !Double.isFinite(thresholdPx)) {
      throw new IllegalArgumentException("the threshold must be a positive number of pixels, passed " + thresholdPx);
    }
    if (!(areaPx >= 0) || !Double.isFinite(areaPx)) {
      throw new IllegalArgumentException("the area must be a finite number >= 0 of square pixels, passed " + areaPx);
    }
    return Math.min(MAX_CHANCE, Math.PI * thresholdPx * thresholdPx / Math.max(areaPx, 1));
  }

  /**
   * {@code -ln NFA} of a model with {@code inliers} of {@code matches} putative matches, {@code p}
   * the chance of one ({@link #chance}); 0 when chance explains it (or fewer than 4 inliers, which
   * any 3-point model has).
   */
  public static double of(int matches, int inliers, double p) {
    if (inliers < 0 || matches < inliers) {
      throw new IllegalArgumentException("inliers must be in [0, matches]: " + inliers + " of " + matches);
    }
    if (!(p > 0 && p < 1)) {
      throw new IllegalArgumentException("the chance p must be in (0, 1), passed " + p);
    }
    if (inliers < 4) {
      return 0;
    }
    double lnNfa = Math.log(matches - 3) + lnChoose(matches, inliers) + lnChoose(inliers, 3)
        + (inliers - 3) * Math.log(p);
    return Math.max(0, -lnNfa);
  }

  /** ln C(n, k), summed term by term (exact enough for the few thousand matches of one pair). */
  static double lnChoose(int n, int k) {
    int m = Math.min(k, n - k);
    double s = 0;
    for (int i = 1; i <= m; i++) {
      s += Math.log(n - m + i) - Math.log(i);
    }
    return s;
  }
}
