package org.deephash.delf.geometry;

import java.util.Arrays;

/**
 * An immutable 2-D projective transform (3x3 matrix, row-major); affine maps are the special
 * case with last row {@code 0 0 1}.
 *
 * <p>Coordinates are continuous image coordinates: pixel {@code (i, j)} covers the square
 * {@code [i, i+1) x [j, j+1)} and its centre is {@code (i + 0.5, j + 0.5)}. With this convention a
 * scaling by {@code s} maps the image's corners to the corners of the scaled image exactly.
 *
 * <pre>{@code
 * Homography h = Homography.rotation(Math.toRadians(30), 64, 48).then(Homography.scaling(0.5, 0.5));
 * double[] q = h.map(10.5, 20.5);           // where source point (10.5, 20.5) lands
 * double[] p = h.inverse().map(q[0], q[1]); // back again
 * }</pre>
 */
public final class Homography {

  private static final Homography IDENTITY = new Homography(new double[] {1, 0, 0, 0, 1, 0, 0, 0, 1});

  private final double[] m;

  private Homography(double[] m) {
    this.m = m;
  }

  /** The identity transform. */
  public static Homography identity() {
    return IDENTITY;
  }

  /**
   * A transform from its nine entries, row-major.
   *
   * @throws IllegalArgumentException when there are not nine finite entries or the matrix is
   *     singular
   */
  public static Homography of(double... m) {
    if (m.length != 9) {
      throw new IllegalArgumentException("a homography has 9 entries (3x3 row-major), passed " + m.length);
    }
    for (int i = 0; i < 9; i++) {
      if (!Double.isFinite(m[i])) {
        throw new IllegalArgumentException("homography entry " + i + " is " + m[i]);
      }
    }
    Homography h = new Homography(m.clone());
    double det = h.determinant();
    if (det == 0 || !Double.isFinite(det)) {
      throw new IllegalArgumentException("singular homography " + h);
    }
    return h;
  }

  /** The affine map {@code x' = a x + b y + tx, y' = c x + d y + ty}. */
  public static Homography affine(double a, double b, double tx, double c, double d, double ty) {
    return of(a, b, tx, c, d, ty, 0, 0, 1);
  }

  /**
   * The affine map with the six parameters {@code [a, b, tx, c, d, ty]} that {@link
   * Ransac.AffineFit#model()} returns.
   */
  public static Homography affine(double[] sixParams) {
    if (sixParams.length != 6) {
      throw new IllegalArgumentException("an affine model has 6 parameters, passed " + sixParams.length);
    }
    return affine(sixParams[0], sixParams[1], sixParams[2], sixParams[3], sixParams[4], sixParams[5]);
  }

  public static Homography translation(double tx, double ty) {
    return affine(1, 0, tx, 0, 1, ty);
  }

  /** Scaling about the origin (the image's top-left corner). */
  public static Homography scaling(double sx, double sy) {
    return affine(sx, 0, 0, 0, sy, 0);
  }

  /**
   * Rotation by {@code radians} about {@code (cx, cy)}. Image y points down, so a positive angle
   * turns clockwise on screen.
   */
  public static Homography rotation(double radians, double cx, double cy) {
    double c = Math.cos(radians);
    double s = Math.sin(radians);
    return affine(c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy);
  }

  /**
   * The homography that maps four source points onto four destination points exactly.
   *
   * @param src {@code x0, y0, x1, y1, x2, y2, x3, y3}
   * @param dst the same layout
   * @throws IllegalArgumentException when three of the points are collinear (no unique solution)
   */
  public static Homography fromCorrespondences(double[] src, double[] dst) {
    if (src.length != 8 || dst.length != 8) {
      throw new IllegalArgumentException(
          "need exactly 4 point pairs (8 numbers each), passed " + src.length + " and " + dst.length);
    }
    // h33 = 1; two equations per pair in the other eight unknowns.
    double[][] a = new double[8][9];
    for (int i = 0; i < 4; i++) {
      double x = src[2 * i];
      double y = src[2 * i + 1];
      double u = dst[2 * i];
      double v = dst[2 * i + 1];
      a[2 * i] = new double[] {x, y, 1, 0, 0, 0, -u * x, -u * y, u};
      a[2 * i + 1] = new double[] {0, 0, 0, x, y, 1, -v * x, -v * y, v};
    }
    double[] h = LinearAlgebra.solve(a, 8);
    if (h == null) {
      throw new IllegalArgumentException(
          "degenerate point configuration (three points collinear?): src="
              + Arrays.toString(src) + " dst=" + Arrays.toString(dst));
    }
    return of(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1);
  }

  /** Entry at {@code row, col} (0-based). */
  public double get(int row, int col) {
    return m[3 * row + col];
  }

  /** The nine entries, row-major (a copy). */
  public double[] toArray() {
    return m.clone();
  }

  /** Whether the last row is exactly {@code 0 0 1}. */
  public boolean isAffine() {
    return m[6] == 0 && m[7] == 0 && m[8] == 1;
  }

  /**
   * Where {@code (x, y)} lands. For a projective map, points on or behind the vanishing line come
   * back infinite or NaN.
   */
  public double[] map(double x, double y) {
    double w = m[6] * x + m[7] * y + m[8];
    return new double[] {(m[0] * x + m[1] * y + m[2]) / w, (m[3] * x + m[4] * y + m[5]) / w};
  }

  /** This transform followed by {@code next}: {@code p -> next(this(p))}. */
  public Homography then(Homography next) {
    double[] a = next.m;
    double[] b = m;
    double[] c = new double[9];
    for (int r = 0; r < 3; r++) {
      for (int k = 0; k < 3; k++) {
        c[3 * r + k] = a[3 * r] * b[k] + a[3 * r + 1] * b[3 + k] + a[3 * r + 2] * b[6 + k];
      }
    }
    return new Homography(c);
  }

  /** The inverse transform. */
  public Homography inverse() {
    double det = determinant();
    double[] i = {
      (m[4] * m[8] - m[5] * m[7]) / det,
      (m[2] * m[7] - m[1] * m[8]) / det,
      (m[1] * m[5] - m[2] * m[4]) / det,
      (m[5] * m[6] - m[3] * m[8]) / det,
      (m[0] * m[8] - m[2] * m[6]) / det,
      (m[2] * m[3] - m[0] * m[5]) / det,
      (m[3] * m[7] - m[4] * m[6]) / det,
      (m[1] * m[6] - m[0] * m[7]) / det,
      (m[0] * m[4] - m[1] * m[3]) / det,
    };
    if (isAffine()) { // keep the last row exact so isAffine() survives inversion
      i[6] = 0;
      i[7] = 0;
      i[8] = 1;
    }
    return new Homography(i);
  }

  double determinant() {
    return m[0] * (m[4] * m[8] - m[5] * m[7])
        - m[1] * (m[3] * m[8] - m[5] * m[6])
        + m[2] * (m[3] * m[7] - m[4] * m[6]);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Homography h && Arrays.equals(m, h.m);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(m);
  }

  @Override
  public String toString() {
    return String.format(
        "Homography[[%.6g, %.6g, %.6g], [%.6g, %.6g, %.6g], [%.6g, %.6g, %.6g]]",
        m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]);
  }
}
