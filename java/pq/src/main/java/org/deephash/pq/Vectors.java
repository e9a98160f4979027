package org.deephash.pq;

/**
 * Shared arithmetic and argument checks of the package. The distance is part of the determinism
 * contract of {@link KMeans}, {@link ProductQuantizer} and {@link IvfPqIndex}: a squared L2
 * distance accumulated in {@code float}, one dimension after the other, so every caller (and a
 * reference implementation in a test) gets bit-identical values.
 */
final class Vectors {
  private Vectors() {}

  /** The largest array Java allocates on common JVMs. */
  static final int MAX_ARRAY = Integer.MAX_VALUE - 8;

  /** Squared L2 distance between {@code a[ao..ao+d)} and {@code b[bo..bo+d)}, summed in order. */
  static float sqDist(float[] a, int ao, float[] b, int bo, int d) {
    float s = 0f;
    for (int j = 0; j < d; j++) {
      float t = a[ao + j] - b[bo + j];
      s += t * t;
    }
    return s;
  }

  /**
   * Index of the row of {@code centroids} (k rows of d) nearest to {@code x[xo..xo+d)}; ties go to
   * the lowest index.
   */
  static int nearest(float[] centroids, int k, int d, float[] x, int xo) {
    int best = 0;
    float bestDist = Float.POSITIVE_INFINITY;
    for (int c = 0; c < k; c++) {
      float dist = sqDist(x, xo, centroids, c * d, d);
      if (dist < bestDist) {
        bestDist = dist;
        best = c;
      }
    }
    return best;
  }

  /**
   * Checks that {@code a} holds exactly {@code n} finite rows of {@code d} floats.
   *
   * @param name the argument's name in messages, such as {@code "vectors"}
   */
  static void requireRows(float[] a, String name, int n, int d) {
    requireRows(a, name, n, "n", d);
  }

  /** As {@link #requireRows(float[], String, int, int)}, the row count being called {@code count}. */
  static void requireRows(float[] a, String name, int n, String count, int d) {
    if (a == null) {
      throw new IllegalArgumentException(name + " must not be null");
    }
    if (n < 0) {
      throw new IllegalArgumentException(count + " must be >= 0 (passed " + n + ")");
    }
    if ((long) n * d != a.length) {
      throw new IllegalArgumentException(name + " holds " + a.length + " floats, but " + count + " * d = " + n + " * "
          + d + " = " + (long) n * d + ": pass " + count + " rows of d floats, row-major");
    }
    requireFinite(a, name, d);
  }

  /** Checks that every value of {@code a} (rows of {@code d}) is finite, naming the first that is not. */
  static void requireFinite(float[] a, String name, int d) {
    for (int i = 0; i < a.length; i++) {
      if (!Float.isFinite(a[i])) {
        throw new IllegalArgumentException(name + " row " + i / d + ", column " + i % d + " is " + a[i]
            + ": every value must be finite");
      }
    }
  }

  static void requireDim(int d) {
    if (d < 1 || d > IvfPqIndex.MAX_DIM) {
      throw new IllegalArgumentException("d (the vector dimension) must be in [1, " + IvfPqIndex.MAX_DIM
          + "] (passed " + d + ")");
    }
  }

  /** A growth of {@code old} able to hold {@code min} elements, at most {@link #MAX_ARRAY}. */
  static int grow(int old, long min) {
    if (min > MAX_ARRAY) {
      throw new IllegalStateException("an array of " + min + " elements is beyond what Java can allocate");
    }
    long n = Math.max(16, old + (old >> 1));
    return (int) Math.min(MAX_ARRAY, Math.max(n, min));
  }
}
