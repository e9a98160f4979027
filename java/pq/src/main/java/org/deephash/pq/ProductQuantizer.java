package org.deephash.pq;

import java.util.SplittableRandom;

/**
 * A product quantizer (Jégou et al., PAMI 2011): a d-dimensional vector is cut into {@code m}
 * sub-vectors of {@code d / m} dimensions, and each sub-vector is replaced by the index of its
 * nearest centroid among the {@code 2^nbits} of its sub-space. A vector thus becomes a code of
 * {@code m * nbits} bits; for DELF descriptors (d = 40, m = 10, nbits = 5) that is 50 bits.
 *
 * <p><b>Code layout.</b> A code is {@link #codeBytes()} = {@code ceil(m * nbits / 8)} bytes read as
 * one little-endian bit string: bit b of the string is bit {@code b % 8} (0 = least significant)
 * of byte {@code b / 8}. Sub-quantizer j's centroid index occupies bits {@code [j * nbits, (j + 1)
 * * nbits)}, least significant bit first. The unused high bits of the last byte are zero. (This
 * is the layout of FAISS's {@code PQEncoderGeneric}.)
 *
 * <p><b>Distances.</b> Asymmetric distance computation (ADC): for a query, {@link #lookupTable}
 * holds the squared distance from each query sub-vector to each centroid of its sub-space, and
 * {@link #adc} adds up m entries of it, one per sub-space, in sub-space order. The result equals
 * the squared L2 distance from the query to {@link #decode decode(code)} up to float rounding.
 * Sub-space distances follow the {@link KMeans} rule (float, dimension order) and encoding breaks
 * ties to the lowest centroid index, so results are bit-reproducible.
 *
 * <p>Instances are immutable and safe to share between threads.
 *
 * <pre>{@code
 * ProductQuantizer pq = ProductQuantizer.train(descriptors, n, 40, 10, 5, 25, 42L);
 * byte[] code = pq.encode(descriptor);          // 7 bytes, 50 bits used
 * float[] table = pq.lookupTable(query);         // 10 x 32 squared distances
 * float approx = pq.adc(table, code);            // ~ |query - descriptor|^2
 * }</pre>
 */
public final class ProductQuantizer {
  private final int d;
  private final int m;
  private final int nbits;
  private final int ksub;
  private final int dsub;
  private final int codeBytes;
  /** Sub-quantizer j's centroid c lies at {@code ((j * ksub) + c) * dsub}. */
  private final float[] centroids;

  private ProductQuantizer(int d, int m, int nbits, float[] centroids) {
    this.d = d;
    this.m = m;
    this.nbits = nbits;
    this.ksub = 1 << nbits;
    this.dsub = d / m;
    this.codeBytes = (m * nbits + 7) / 8;
    this.centroids = centroids;
  }

  /** Trains on one thread; see {@link #train(float[], int, int, int, int, int, long, int)}. */
  public static ProductQuantizer train(float[] data, int n, int d, int m, int nbits, int kmeansIters, long seed) {
    return train(data, n, d, m, nbits, kmeansIters, seed, 1);
  }

  /**
   * Trains the m sub-quantizers with {@link KMeans} on the sub-vectors of {@code data}.
   * Sub-quantizer j uses the j-th {@code nextLong()} of {@code new SplittableRandom(seed)} as its
   * k-means seed.
   *
   * @param data n rows of d finite floats, row-major
   * @param n number of training vectors, at least {@code 2^nbits}
   * @param m number of sub-quantizers; must divide d
   * @param nbits bits per sub-quantizer index, in [1, 8]
   * @param kmeansIters most Lloyd iterations per sub-quantizer
   * @param threads threads for k-means (does not change the result)
   * @throws IllegalArgumentException when an argument is out of range, with what to fix
   */
  public static ProductQuantizer train(float[] data, int n, int d, int m, int nbits, int kmeansIters, long seed,
      int threads) {
    checkShape(d, m, nbits);
    Vectors.requireRows(data, "data", n, d);
    int ksub = 1 << nbits;
    if (n < ksub) {
      throw new IllegalArgumentException("training a product quantizer with nbits = " + nbits + " needs at least 2^"
          + nbits + " = " + ksub + " vectors (passed n = " + n + "): add training data or lower nbits");
    }
    if (kmeansIters < 0) {
      throw new IllegalArgumentException("kmeansIters must be >= 0 (passed " + kmeansIters + ")");
    }
    int dsub = d / m;
    float[] centroids = new float[m * ksub * dsub];
    float[] sub = new float[n * dsub];
    SplittableRandom seeds = new SplittableRandom(seed);
    for (int j = 0; j < m; j++) {
      for (int i = 0; i < n; i++) {
        System.arraycopy(data, i * d + j * dsub, sub, i * dsub, dsub);
      }
      KMeans.Result r = KMeans.train(sub, n, dsub, ksub, kmeansIters, seeds.nextLong(), threads);
      System.arraycopy(r.centroidsNoCopy(), 0, centroids, j * ksub * dsub, ksub * dsub);
    }
    return new ProductQuantizer(d, m, nbits, centroids);
  }

  /**
   * A quantizer from known centroids, for example ones saved earlier by {@link #centroids()}.
   *
   * @param centroids m * 2^nbits * (d / m) finite floats: sub-quantizer j's centroid c starts at
   *     {@code (j * 2^nbits + c) * (d / m)} (copied)
   */
  public static ProductQuantizer fromCentroids(int d, int m, int nbits, float[] centroids) {
    checkShape(d, m, nbits);
    if (centroids == null) {
      throw new IllegalArgumentException("centroids must not be null");
    }
    int expected = m * (1 << nbits) * (d / m);
    if (centroids.length != expected) {
      throw new IllegalArgumentException("centroids holds " + centroids.length + " floats; m * 2^nbits * (d / m) = "
          + m + " * " + (1 << nbits) + " * " + d / m + " = " + expected + " expected");
    }
    Vectors.requireFinite(centroids, "centroids", d / m);
    return new ProductQuantizer(d, m, nbits, centroids.clone());
  }

  /** Checks d, m and nbits together. */
  static void checkShape(int d, int m, int nbits) {
    Vectors.requireDim(d);
    if (m < 1 || m > d) {
      throw new IllegalArgumentException("m (the number of sub-quantizers) must be in [1, d = " + d + "] (passed "
          + m + ")");
    }
    if (d % m != 0) {
      throw new IllegalArgumentException("d = " + d + " is not divisible by m = " + m
          + ": choose m among the divisors of d (" + divisors(d) + ")");
    }
    if (nbits < 1 || nbits > 8) {
      throw new IllegalArgumentException("nbits must be in [1, 8] (passed " + nbits + ")");
    }
  }

  private static String divisors(int d) {
    StringBuilder s = new StringBuilder();
    for (int i = 1; i <= d && s.length() < 60; i++) {
      if (d % i == 0) {
        s.append(s.isEmpty() ? "" : ", ").append(i);
      }
    }
    return s.toString();
  }

  /** Vector dimension d. */
  public int dim() {
    return d;
  }

  /** Number of sub-quantizers m. */
  public int m() {
    return m;
  }

  /** Bits per sub-quantizer index. */
  public int nbits() {
    return nbits;
  }

  /** Centroids per sub-quantizer, {@code 2^nbits}. */
  public int ksub() {
    return ksub;
  }

  /** Dimension of a sub-vector, {@code d / m}. */
  public int subDim() {
    return dsub;
  }

  /** Bytes per code, {@code ceil(m * nbits / 8)}. */
  public int codeBytes() {
    return codeBytes;
  }

  /** A copy of the centroids, laid out as {@link #fromCentroids} takes them. */
  public float[] centroids() {
    return centroids.clone();
  }

  float[] centroidsNoCopy() {
    return centroids;
  }

  /** The code of one vector of d floats. */
  public byte[] encode(float[] vector) {
    requireVector(vector, "vector");
    byte[] code = new byte[codeBytes];
    encode(vector, 0, code, 0);
    return code;
  }

  /** The codes of n vectors (n rows of d floats), concatenated: {@code n * codeBytes()} bytes. */
  public byte[] encode(float[] vectors, int n) {
    Vectors.requireRows(vectors, "vectors", n, d);
    if ((long) n * codeBytes > Vectors.MAX_ARRAY) {
      throw new IllegalArgumentException(n + " codes of " + codeBytes + " bytes do not fit in one array: encode in"
          + " batches");
    }
    byte[] codes = new byte[n * codeBytes];
    for (int i = 0; i < n; i++) {
      encode(vectors, i * d, codes, i * codeBytes);
    }
    return codes;
  }

  /** Encodes {@code x[xo..xo+d)} into {@code code[co..co+codeBytes)}, which must be zero. No checks. */
  void encode(float[] x, int xo, byte[] code, int co) {
    for (int j = 0; j < m; j++) {
      int best = 0;
      float bestDist = Float.POSITIVE_INFINITY;
      int base = j * ksub * dsub;
      for (int c = 0; c < ksub; c++) {
        float dist = Vectors.sqDist(x, xo + j * dsub, centroids, base + c * dsub, dsub);
        if (dist < bestDist) {
          bestDist = dist;
          best = c;
        }
      }
      put(code, co, j, best);
    }
  }

  /** Writes index {@code value} of sub-quantizer j into the code at {@code co}. */
  private void put(byte[] code, int co, int j, int value) {
    int bit = j * nbits;
    int written = 0;
    while (written < nbits) {
      int at = co + ((bit + written) >>> 3);
      int shift = (bit + written) & 7;
      int take = Math.min(8 - shift, nbits - written);
      code[at] |= (byte) (((value >>> written) & ((1 << take) - 1)) << shift);
      written += take;
    }
  }

  /** Index of sub-quantizer j in the code at {@code co}. */
  int get(byte[] code, int co, int j) {
    int bit = j * nbits;
    int at = co + (bit >>> 3);
    int shift = bit & 7;
    int v = (code[at] & 0xFF) >>> shift;
    if (shift + nbits > 8) {
      v |= (code[at + 1] & 0xFF) << (8 - shift);
    }
    return v & (ksub - 1);
  }

  /** The reconstruction of a code: the concatenation of its m centroids (d floats). */
  public float[] decode(byte[] code) {
    requireCode(code, 0);
    float[] out = new float[d];
    for (int j = 0; j < m; j++) {
      System.arraycopy(centroids, (j * ksub + get(code, 0, j)) * dsub, out, j * dsub, dsub);
    }
    return out;
  }

  /**
   * The ADC table of a query: {@code m * 2^nbits} floats, entry {@code j * 2^nbits + c} being the
   * squared distance from the query's j-th sub-vector to centroid c of sub-space j.
   */
  public float[] lookupTable(float[] query) {
    requireVector(query, "query");
    float[] table = new float[m * ksub];
    lookupTable(query, 0, table);
    return table;
  }

  /** Fills {@code table} (m * ksub) for the query at {@code q[qo..qo+d)}. No checks. */
  void lookupTable(float[] q, int qo, float[] table) {
    for (int j = 0; j < m; j++) {
      int base = j * ksub;
      for (int c = 0; c < ksub; c++) {
        table[base + c] = Vectors.sqDist(q, qo + j * dsub, centroids, (base + c) * dsub, dsub);
      }
    }
  }

  /** The approximate squared distance of a code to the query of {@code table}; see the class doc. */
  public float adc(float[] table, byte[] code) {
    return adc(table, code, 0);
  }

  /**
   * As {@link #adc(float[], byte[])} for the code at {@code codes[offset..offset+codeBytes())}, to
   * scan a block of concatenated codes without copying.
   */
  public float adc(float[] table, byte[] codes, int offset) {
    if (table == null || table.length != m * ksub) {
      throw new IllegalArgumentException("table must be a lookup table of m * 2^nbits = " + m * ksub
          + " floats from lookupTable (passed " + (table == null ? "null" : table.length + " floats") + ")");
    }
    requireCode(codes, offset);
    return adcUnchecked(table, codes, offset);
  }

  /** ADC sum in sub-space order. No checks. */
  float adcUnchecked(float[] table, byte[] codes, int offset) {
    float s = 0f;
    if (nbits == 8) {
      for (int j = 0; j < m; j++) {
        s += table[j * 256 + (codes[offset + j] & 0xFF)];
      }
      return s;
    }
    // Stream the bits through a 64-bit buffer, a byte at a time, least significant first.
    long buf = 0;
    int have = 0;
    int next = offset;
    int mask = ksub - 1;
    for (int j = 0; j < m; j++) {
      if (have < nbits) {
        buf |= (long) (codes[next++] & 0xFF) << have;
        have += 8;
      }
      s += table[j * ksub + (int) (buf & mask)];
      buf >>>= nbits;
      have -= nbits;
    }
    return s;
  }

  private void requireVector(float[] v, String name) {
    if (v == null || v.length != d) {
      throw new IllegalArgumentException(name + " must hold d = " + d + " floats (passed "
          + (v == null ? "null" : v.length + " floats") + ")");
    }
    Vectors.requireFinite(v, name, d);
  }

  private void requireCode(byte[] codes, int offset) {
    if (codes == null) {
      throw new IllegalArgumentException("code must not be null");
    }
    if (offset < 0 || offset > codes.length - codeBytes) {
      throw new IllegalArgumentException("a code is " + codeBytes + " bytes (m * nbits = " + m * nbits
          + " bits); offset " + offset + " leaves " + Math.max(0, codes.length - offset) + " in an array of "
          + codes.length);
    }
  }
}
