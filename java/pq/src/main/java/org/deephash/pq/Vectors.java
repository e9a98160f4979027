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
   * The nearest of k centroids (ties to the lowest index) for many points, and every point's
   * distances to them: the centroids are transposed (dimension-major), so the distances to a vector
   * of centroids accumulate in registers over the dimensions ({@link Lanes}; without the Vector API
   * module, a plain loop over the centroids). Each distance still adds {@code (x_j - c_j)^2} in float
   * for j = 0, 1, ... as {@link #sqDist} does (Java never fuses the multiply and the add), so every
   * distance is bit for bit {@link #sqDist}'s. Before, one {@link #sqDist} after the other (each a
   * chain of dependent adds), adding 10.2M DELF descriptors to 3,196 lists took over 20 minutes of
   * one core; this is about 10x faster per point.
   */
  static final class NearestFinder {
    private final float[] transposed;
    private final int k;
    private final int d;

    NearestFinder(float[] centroids, int k, int d) {
      this.k = k;
      this.d = d;
      transposed = new float[k * d];
      for (int c = 0; c < k; c++) {
        for (int j = 0; j < d; j++) {
          transposed[j * k + c] = centroids[c * d + j];
        }
      }
    }

    /** Scratch for {@link #nearest}: one per thread. */
    float[] scratch() {
      return new float[k];
    }

    /** The index of the centroid nearest to {@code x[xo..xo+d)}, ties to the lowest. */
    int nearest(float[] x, int xo, float[] dist) {
      distances(x, xo, dist);
      int best = 0;
      float bestDist = Float.POSITIVE_INFINITY;
      for (int c = 0; c < k; c++) {
        if (dist[c] < bestDist) {
          bestDist = dist[c];
          best = c;
        }
      }
      return best;
    }

    /** {@code dist[c]} = {@link #sqDist} of {@code x[xo..xo+d)} and centroid c, bit for bit, for every c. */
    void distances(float[] x, int xo, float[] dist) {
      int c0 = VECTOR_API ? Lanes.distances(transposed, k, d, x, xo, dist) : 0;
      if (c0 < k) {
        java.util.Arrays.fill(dist, c0, k, 0f);
        for (int j = 0; j < d; j++) {
          float xj = x[xo + j];
          int o = j * k;
          for (int c = c0; c < k; c++) {
            float t = xj - transposed[o + c];
            dist[c] += t * t;
          }
        }
      }
    }
  }

  /** Whether the Vector API module is loaded ({@link Lanes} runs only then). */
  static final boolean VECTOR_API = org.deephash.internal.VectorModule.present();

  /**
   * The distances of {@link NearestFinder} a vector of centroids at a time, accumulators in
   * registers over the dimensions; the multiply and the add stay two roundings, as in {@link #sqDist}.
   * A class of its own so that nothing touches the Vector API when the module is absent.
   */
  private static final class Lanes {
    private static final jdk.incubator.vector.VectorSpecies<Float> S =
        jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;

    /** Fills dist[0..c) for the largest c <= k that is a whole number of vectors; returns c. */
    static int distances(float[] transposed, int k, int d, float[] x, int xo, float[] dist) {
      int lanes = S.length();
      int c = 0;
      for (; c + 4 * lanes <= k; c += 4 * lanes) {
        var a0 = jdk.incubator.vector.FloatVector.zero(S);
        var a1 = a0;
        var a2 = a0;
        var a3 = a0;
        for (int j = 0, o = c; j < d; j++, o += k) {
          var xj = jdk.incubator.vector.FloatVector.broadcast(S, x[xo + j]);
          var t0 = xj.sub(jdk.incubator.vector.FloatVector.fromArray(S, transposed, o));
          var t1 = xj.sub(jdk.incubator.vector.FloatVector.fromArray(S, transposed, o + lanes));
          var t2 = xj.sub(jdk.incubator.vector.FloatVector.fromArray(S, transposed, o + 2 * lanes));
          var t3 = xj.sub(jdk.incubator.vector.FloatVector.fromArray(S, transposed, o + 3 * lanes));
          a0 = a0.add(t0.mul(t0));
          a1 = a1.add(t1.mul(t1));
          a2 = a2.add(t2.mul(t2));
          a3 = a3.add(t3.mul(t3));
        }
        a0.intoArray(dist, c);
        a1.intoArray(dist, c + lanes);
        a2.intoArray(dist, c + 2 * lanes);
        a3.intoArray(dist, c + 3 * lanes);
      }
      for (; c + lanes <= k; c += lanes) {
        var a0 = jdk.incubator.vector.FloatVector.zero(S);
        for (int j = 0, o = c; j < d; j++, o += k) {
          var t0 = jdk.incubator.vector.FloatVector.broadcast(S, x[xo + j])
              .sub(jdk.incubator.vector.FloatVector.fromArray(S, transposed, o));
          a0 = a0.add(t0.mul(t0));
        }
        a0.intoArray(dist, c);
      }
      return c;
    }
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
