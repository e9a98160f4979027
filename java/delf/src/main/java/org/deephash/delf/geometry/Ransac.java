package org.deephash.delf.geometry;

import java.util.Arrays;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * RANSAC estimation of a 2-D affine transform from point correspondences, the geometric
 * verification step of DELF retrieval (Noh et al., ICCV 2017): the inlier count of the best
 * affine model re-ranks the database images that share local features with the query.
 *
 * <p>Each trial draws a minimal sample of three correspondences (skipping samples whose source or
 * destination points are collinear), solves the affine map exactly and counts the correspondences
 * it maps to within {@link Options#threshold()} pixels of their destination. The best consensus
 * set is then refined: the model is refit by least squares on it and the set is re-scored under
 * the refit model, while that adds inliers (at most {@value #REFINE_ROUNDS} times). The returned
 * model is the least-squares fit to exactly the returned inliers. Results depend only on the
 * inputs and the seed.
 *
 * <pre>{@code
 * double[] src = {x0, y0, x1, y1, ...};   // query keypoints
 * double[] dst = {u0, v0, u1, v1, ...};   // their matches in a database image
 * Optional<Ransac.AffineFit> fit = Ransac.fitAffine(src, dst, Ransac.Options.defaults());
 * int score = fit.map(Ransac.AffineFit::inlierCount).orElse(0);
 * }</pre>
 */
public final class Ransac {

  /** Refinement rounds after the sampling stage. */
  public static final int REFINE_ROUNDS = 3;

  /**
   * How to run RANSAC.
   *
   * @param trials minimal samples drawn (degenerate samples count as trials, so a run always ends)
   * @param threshold inlier distance in pixels: a correspondence is an inlier when the model maps
   *     its source point within this Euclidean distance of its destination point
   * @param minInliers fewest inliers for a model to be returned; at least 3
   * @param seed seed of the sampling
   */
  public record Options(int trials, double threshold, int minInliers, long seed) {

    public Options {
      if (trials < 1) {
        throw new IllegalArgumentException("trials must be >= 1, passed " + trials);
      }
      if (!(threshold > 0) || !Double.isFinite(threshold)) {
        throw new IllegalArgumentException("threshold must be a positive number of pixels, passed " + threshold);
      }
      if (minInliers < 3) {
        throw new IllegalArgumentException(
            "minInliers must be >= 3 (any 3 correspondences fit an affine map exactly), passed " + minInliers);
      }
    }

    /** 1000 trials, 4 px, at least 6 inliers, seed 0. */
    public static Options defaults() {
      return new Options(1000, 4.0, 6, 0L);
    }

    public Options withTrials(int t) {
      return new Options(t, threshold, minInliers, seed);
    }

    public Options withThreshold(double px) {
      return new Options(trials, px, minInliers, seed);
    }

    public Options withMinInliers(int n) {
      return new Options(trials, threshold, n, seed);
    }

    public Options withSeed(long s) {
      return new Options(trials, threshold, minInliers, s);
    }
  }

  /**
   * An affine model and the correspondences that support it.
   *
   * @param model {@code [a, b, tx, c, d, ty]}: {@code x' = a x + b y + tx}, {@code y' = c x + d y +
   *     ty}
   * @param inliers one flag per correspondence
   * @param inlierCount number of true flags
   */
  public record AffineFit(double[] model, boolean[] inliers, int inlierCount) {

    public AffineFit {
      model = model.clone();
      inliers = inliers.clone();
    }

    @Override
    public double[] model() {
      return model.clone();
    }

    @Override
    public boolean[] inliers() {
      return inliers.clone();
    }

    public boolean isInlier(int i) {
      return inliers[i];
    }

    /** The model as a transform. */
    public Homography toHomography() {
      return Homography.affine(model);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof AffineFit f
          && inlierCount == f.inlierCount
          && Arrays.equals(model, f.model)
          && Arrays.equals(inliers, f.inliers);
    }

    @Override
    public int hashCode() {
      return 31 * Arrays.hashCode(model) + Arrays.hashCode(inliers);
    }

    @Override
    public String toString() {
      return "AffineFit[model=" + Arrays.toString(model) + ", inlierCount=" + inlierCount + "]";
    }
  }

  private Ransac() {}

  /**
   * Fits an affine map {@code src -> dst}.
   *
   * @param src source points, interleaved {@code x0, y0, x1, y1, ...}
   * @param dst destination points, same layout and length
   * @return the model, or empty when there are fewer than 3 correspondences, every sample was
   *     degenerate (e.g. all source points collinear), or the best model has fewer than {@link
   *     Options#minInliers()} inliers
   * @throws IllegalArgumentException when the arrays differ in length, have odd length, or hold a
   *     NaN or infinite coordinate (the message names the point)
   */
  public static Optional<AffineFit> fitAffine(double[] src, double[] dst, Options options) {
    return fitAffine(src, dst, options, null);
  }

  /**
   * As {@link #fitAffine(double[], double[], Options)}, considering only models that {@code
   * admissible} accepts ({@code [a, b, tx, c, d, ty]}; null accepts all): a sample whose exact model
   * it rejects counts as a trial and is not scored, a refinement it rejects ends the refinement,
   * and a final least-squares model it rejects gives the best exact model that it accepted. So an
   * implausible model with many inliers cannot hide a plausible one with fewer.
   */
  public static Optional<AffineFit> fitAffine(double[] src, double[] dst, Options options,
      java.util.function.Predicate<double[]> admissible) {
    int n = checkPoints(src, dst);
    if (n < 3 || n < options.minInliers()) {
      return Optional.empty();
    }
    double thr2 = options.threshold() * options.threshold();
    double srcEps = degeneracyTolerance(src);
    double dstEps = degeneracyTolerance(dst);
    SplittableRandom rnd = new SplittableRandom(options.seed());

    double[] model = new double[6];
    double[] best = null;
    int bestCount = 0;
    for (int t = 0; t < options.trials(); t++) {
      // three distinct indices, uniformly
      int i = rnd.nextInt(n);
      int j = rnd.nextInt(n - 1);
      if (j >= i) {
        j++;
      }
      int k = rnd.nextInt(n - 2);
      if (k >= Math.min(i, j)) {
        k++;
      }
      if (k >= Math.max(i, j)) {
        k++;
      }
      if (Math.abs(cross(src, i, j, k)) <= srcEps || Math.abs(cross(dst, i, j, k)) <= dstEps) {
        continue;
      }
      solveExact(src, dst, i, j, k, model);
      if (admissible != null && !admissible.test(model)) {
        continue;
      }
      int count = countInliers(model, src, dst, thr2, null);
      if (count > bestCount) {
        bestCount = count;
        best = model.clone();
        if (count == n) {
          break;
        }
      }
    }
    if (best == null || bestCount < options.minInliers()) {
      return Optional.empty();
    }

    boolean[] mask = new boolean[n];
    int count = countInliers(best, src, dst, thr2, mask);
    double[] fit = leastSquaresAffine(src, dst, mask);
    if (fit == null || (admissible != null && !admissible.test(fit))) {
      // inliers numerically collinear, or their least-squares model inadmissible: the exact minimal model
      return Optional.of(new AffineFit(best, mask, count));
    }
    for (int round = 0; round < REFINE_ROUNDS; round++) {
      boolean[] next = new boolean[n];
      int nextCount = countInliers(fit, src, dst, thr2, next);
      if (nextCount <= count) {
        break;
      }
      double[] refit = leastSquaresAffine(src, dst, next);
      if (refit == null || (admissible != null && !admissible.test(refit))) {
        break;
      }
      mask = next;
      count = nextCount;
      fit = refit;
    }
    return Optional.of(new AffineFit(fit, mask, count));
  }

  /**
   * The least-squares affine map from the selected source points to their destinations,
   * minimising the summed squared distance. Coordinates are centred first, which keeps the 2x2
   * normal equations well conditioned for pixel coordinates far from the origin.
   *
   * @param mask which correspondences to use; null for all
   * @return {@code [a, b, tx, c, d, ty]}, or null when fewer than 3 points are selected or they
   *     are collinear
   * @throws IllegalArgumentException on malformed input, as {@link #fitAffine}
   */
  public static double[] leastSquaresAffine(double[] src, double[] dst, boolean[] mask) {
    int n = checkPoints(src, dst);
    if (mask != null && mask.length != n) {
      throw new IllegalArgumentException("mask has " + mask.length + " flags for " + n + " points");
    }
    int m = 0;
    double msx = 0, msy = 0, mdx = 0, mdy = 0;
    for (int i = 0; i < n; i++) {
      if (mask == null || mask[i]) {
        m++;
        msx += src[2 * i];
        msy += src[2 * i + 1];
        mdx += dst[2 * i];
        mdy += dst[2 * i + 1];
      }
    }
    if (m < 3) {
      return null;
    }
    msx /= m;
    msy /= m;
    mdx /= m;
    mdy /= m;
    double sxx = 0, sxy = 0, syy = 0, bxx = 0, bxy = 0, byx = 0, byy = 0;
    for (int i = 0; i < n; i++) {
      if (mask == null || mask[i]) {
        double x = src[2 * i] - msx;
        double y = src[2 * i + 1] - msy;
        double u = dst[2 * i] - mdx;
        double v = dst[2 * i + 1] - mdy;
        sxx += x * x;
        sxy += x * y;
        syy += y * y;
        bxx += u * x;
        bxy += u * y;
        byx += v * x;
        byy += v * y;
      }
    }
    double det = sxx * syy - sxy * sxy;
    double tr = sxx + syy;
    if (!(det > 1e-12 * tr * tr)) {
      return null;
    }
    double a = (bxx * syy - bxy * sxy) / det;
    double b = (bxy * sxx - bxx * sxy) / det;
    double c = (byx * syy - byy * sxy) / det;
    double d = (byy * sxx - byx * sxy) / det;
    return new double[] {a, b, mdx - a * msx - b * msy, c, d, mdy - c * msx - d * msy};
  }

  private static int checkPoints(double[] src, double[] dst) {
    if (src.length != dst.length) {
      throw new IllegalArgumentException(
          "src and dst must hold the same number of points, passed "
              + src.length / 2 + " and " + dst.length / 2 + " (" + src.length + " and " + dst.length + " numbers)");
    }
    if (src.length % 2 != 0) {
      throw new IllegalArgumentException(
          "points are interleaved x, y pairs: the length must be even, passed " + src.length);
    }
    for (int i = 0; i < src.length; i += 2) {
      if (!Double.isFinite(src[i]) || !Double.isFinite(src[i + 1])) {
        throw new IllegalArgumentException(
            "src point " + i / 2 + " is not finite: (" + src[i] + ", " + src[i + 1] + ")");
      }
      if (!Double.isFinite(dst[i]) || !Double.isFinite(dst[i + 1])) {
        throw new IllegalArgumentException(
            "dst point " + i / 2 + " is not finite: (" + dst[i] + ", " + dst[i + 1] + ")");
      }
    }
    return src.length / 2;
  }

  /** Twice the triangle's area below which three points count as collinear. */
  private static double degeneracyTolerance(double[] p) {
    double minX = Double.POSITIVE_INFINITY, maxX = Double.NEGATIVE_INFINITY;
    double minY = Double.POSITIVE_INFINITY, maxY = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < p.length; i += 2) {
      minX = Math.min(minX, p[i]);
      maxX = Math.max(maxX, p[i]);
      minY = Math.min(minY, p[i + 1]);
      maxY = Math.max(maxY, p[i + 1]);
    }
    double extent = Math.max(maxX - minX, maxY - minY);
    return 1e-9 * extent * extent;
  }

  private static double cross(double[] p, int i, int j, int k) {
    double ax = p[2 * j] - p[2 * i];
    double ay = p[2 * j + 1] - p[2 * i + 1];
    double bx = p[2 * k] - p[2 * i];
    double by = p[2 * k + 1] - p[2 * i + 1];
    return ax * by - ay * bx;
  }

  /** The affine map taking src points i, j, k exactly onto dst points i, j, k. */
  private static void solveExact(double[] src, double[] dst, int i, int j, int k, double[] out) {
    double e1x = src[2 * j] - src[2 * i];
    double e1y = src[2 * j + 1] - src[2 * i + 1];
    double e2x = src[2 * k] - src[2 * i];
    double e2y = src[2 * k + 1] - src[2 * i + 1];
    double f1x = dst[2 * j] - dst[2 * i];
    double f1y = dst[2 * j + 1] - dst[2 * i + 1];
    double f2x = dst[2 * k] - dst[2 * i];
    double f2y = dst[2 * k + 1] - dst[2 * i + 1];
    double det = e1x * e2y - e1y * e2x;
    double a = (f1x * e2y - f2x * e1y) / det;
    double b = (f2x * e1x - f1x * e2x) / det;
    double c = (f1y * e2y - f2y * e1y) / det;
    double d = (f2y * e1x - f1y * e2x) / det;
    out[0] = a;
    out[1] = b;
    out[2] = dst[2 * i] - a * src[2 * i] - b * src[2 * i + 1];
    out[3] = c;
    out[4] = d;
    out[5] = dst[2 * i + 1] - c * src[2 * i] - d * src[2 * i + 1];
  }

  private static int countInliers(double[] m, double[] src, double[] dst, double thr2, boolean[] mask) {
    int count = 0;
    for (int i = 0, n = src.length / 2; i < n; i++) {
      double x = src[2 * i];
      double y = src[2 * i + 1];
      double ex = m[0] * x + m[1] * y + m[2] - dst[2 * i];
      double ey = m[3] * x + m[4] * y + m[5] - dst[2 * i + 1];
      boolean in = ex * ex + ey * ey <= thr2;
      if (in) {
        count++;
      }
      if (mask != null) {
        mask[i] = in;
      }
    }
    return count;
  }
}
