package org.deephash.delf.geometry;

/** Small dense solvers for the geometry code; inputs are assumed valid. */
final class LinearAlgebra {

  private LinearAlgebra() {}

  /**
   * Solves the n x n system whose augmented matrix {@code a} (n rows of n + 1 entries) is given, by
   * Gaussian elimination with partial pivoting. {@code a} is overwritten.
   *
   * @return the solution, or null when the matrix is singular to working precision
   */
  static double[] solve(double[][] a, int n) {
    double scale = 0;
    for (int r = 0; r < n; r++) {
      for (int c = 0; c < n; c++) {
        scale = Math.max(scale, Math.abs(a[r][c]));
      }
    }
    if (scale == 0 || !Double.isFinite(scale)) {
      return null;
    }
    double tiny = scale * 1e-12;
    for (int col = 0; col < n; col++) {
      int p = col;
      for (int r = col + 1; r < n; r++) {
        if (Math.abs(a[r][col]) > Math.abs(a[p][col])) {
          p = r;
        }
      }
      if (Math.abs(a[p][col]) <= tiny) {
        return null;
      }
      double[] t = a[p];
      a[p] = a[col];
      a[col] = t;
      for (int r = col + 1; r < n; r++) {
        double f = a[r][col] / a[col][col];
        if (f != 0) {
          for (int c = col; c <= n; c++) {
            a[r][c] -= f * a[col][c];
          }
        }
      }
    }
    double[] x = new double[n];
    for (int r = n - 1; r >= 0; r--) {
      double s = a[r][n];
      for (int c = r + 1; c < n; c++) {
        s -= a[r][c] * x[c];
      }
      x[r] = s / a[r][r];
    }
    return x;
  }
}
