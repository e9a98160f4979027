package org.deephash.pq;

import static org.deephash.pq.KMeansTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ProductQuantizerTest {

  static float[] gaussian(long seed, int n, int d) {
    SplittableRandom rnd = new SplittableRandom(seed);
    float[] x = new float[n * d];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (rnd.nextGaussian() * (1 + i % 3));
    }
    return x;
  }

  /**
   * Brute-force nearest centroid of sub-vector j: every centroid tried, distance as documented
   * (float, dimension order), ties to the lowest index.
   */
  static int bruteNearest(float[] cents, int ksub, int dsub, int j, float[] x, int xo) {
    int best = 0;
    float bestDist = Float.POSITIVE_INFINITY;
    for (int c = 0; c < ksub; c++) {
      float s = 0;
      for (int t = 0; t < dsub; t++) {
        float diff = x[xo + j * dsub + t] - cents[(j * ksub + c) * dsub + t];
        s += diff * diff;
      }
      if (s < bestDist) {
        bestDist = s;
        best = c;
      }
    }
    return best;
  }

  /** The documented layout: index j at bits [j*nbits, (j+1)*nbits), LSB first, of a little-endian bit string. */
  static byte[] pack(int[] indices, int nbits) {
    byte[] code = new byte[(indices.length * nbits + 7) / 8];
    for (int j = 0; j < indices.length; j++) {
      for (int b = 0; b < nbits; b++) {
        if ((indices[j] >>> b & 1) != 0) {
          int bit = j * nbits + b;
          code[bit / 8] |= (byte) (1 << (bit % 8));
        }
      }
    }
    return code;
  }

  @ParameterizedTest(name = "d={0} m={1} nbits={2}")
  @CsvSource({
    "40, 10, 5", "40, 40, 1", "12, 4, 3", "16, 8, 8", "14, 7, 7", "6, 3, 2", "8, 1, 4", "18, 9, 6",
  })
  void encodeIsTheNearestCentroidPackedAsDocumented(int d, int m, int nbits) {
    int n = Math.max(300, 3 << nbits);
    float[] train = gaussian(d * 1000L + m * 10 + nbits, n, d);
    ProductQuantizer pq = ProductQuantizer.train(train, n, d, m, nbits, 10, 7L);
    assertEquals((m * nbits + 7) / 8, pq.codeBytes());
    float[] cents = pq.centroids();
    int ksub = 1 << nbits;
    int dsub = d / m;
    int nq = 200;
    float[] x = gaussian(5, nq, d);
    byte[] batch = pq.encode(x, nq);
    assertEquals(nq * pq.codeBytes(), batch.length);
    for (int i = 0; i < nq; i++) {
      int[] idx = new int[m];
      for (int j = 0; j < m; j++) {
        idx[j] = bruteNearest(cents, ksub, dsub, j, x, i * d);
      }
      byte[] expected = pack(idx, nbits);
      float[] row = java.util.Arrays.copyOfRange(x, i * d, (i + 1) * d);
      assertArrayEquals(expected, pq.encode(row), "vector " + i);
      assertArrayEquals(expected, java.util.Arrays.copyOfRange(batch, i * pq.codeBytes(), (i + 1) * pq.codeBytes()));
      float[] dec = pq.decode(expected);
      for (int j = 0; j < m; j++) {
        for (int t = 0; t < dsub; t++) {
          assertEquals(cents[(j * ksub + idx[j]) * dsub + t], dec[j * dsub + t]);
        }
      }
    }
  }

  @Test
  void encodeTiesGoToTheLowestCentroid() {
    // Sub-space 0 has centroids 0, 2, 2, 0: the value 1 is equidistant from all four, 2 from none.
    int d = 2;
    int m = 2;
    int nbits = 2;
    float[] cents = {
      0, 2, 2, 0, // sub 0: 0, 2, 2, 0
      5, 1, 1, 5, // sub 1: 5, 1, 1, 5
    };
    ProductQuantizer pq = ProductQuantizer.fromCentroids(d, m, nbits, cents);
    byte[] code = pq.encode(new float[] {1, 1});
    assertArrayEquals(pack(new int[] {0, 1}, nbits), code);
    byte[] code2 = pq.encode(new float[] {2, 5});
    assertArrayEquals(pack(new int[] {1, 0}, nbits), code2);
  }

  @ParameterizedTest(name = "d={0} m={1} nbits={2}")
  @CsvSource({"40, 10, 5", "16, 8, 8", "12, 4, 3", "9, 3, 1", "14, 7, 7"})
  void adcIsTheSquaredDistanceToTheReconstruction(int d, int m, int nbits) {
    int n = Math.max(256, 2 << nbits);
    ProductQuantizer pq = ProductQuantizer.train(gaussian(11, n, d), n, d, m, nbits, 8, 3L);
    float[] db = gaussian(12, 100, d);
    byte[] codes = pq.encode(db, 100);
    float[] queries = gaussian(13, 20, d);
    for (int q = 0; q < 20; q++) {
      float[] query = java.util.Arrays.copyOfRange(queries, q * d, (q + 1) * d);
      float[] table = pq.lookupTable(query);
      assertEquals(m * (1 << nbits), table.length);
      for (int i = 0; i < 100; i++) {
        byte[] code = java.util.Arrays.copyOfRange(codes, i * pq.codeBytes(), (i + 1) * pq.codeBytes());
        float[] rec = pq.decode(code);
        double exact = 0;
        for (int t = 0; t < d; t++) {
          double diff = (double) query[t] - rec[t];
          exact += diff * diff;
        }
        float adc = pq.adc(table, code);
        assertEquals(exact, adc, 1e-4 * Math.max(exact, 1e-6), "query " + q + ", code " + i);
        assertEquals(adc, pq.adc(table, codes, i * pq.codeBytes()), "offset form");
      }
    }
  }

  @Test
  void fromCentroidsRoundTrips() {
    ProductQuantizer pq = ProductQuantizer.train(gaussian(1, 500, 40), 500, 40, 10, 5, 5, 9L);
    ProductQuantizer copy = ProductQuantizer.fromCentroids(40, 10, 5, pq.centroids());
    float[] x = gaussian(2, 50, 40);
    assertArrayEquals(pq.encode(x, 50), copy.encode(x, 50));
    assertEquals(7, pq.codeBytes(), "DELF: 10 x 5 = 50 bits in 7 bytes");
    assertEquals(32, pq.ksub());
    assertEquals(4, pq.subDim());
  }

  @Test
  void trainingIsDeterministicAcrossThreadCounts() {
    float[] x = gaussian(3, 2000, 16);
    ProductQuantizer a = ProductQuantizer.train(x, 2000, 16, 4, 6, 10, 5L, 1);
    ProductQuantizer b = ProductQuantizer.train(x, 2000, 16, 4, 6, 10, 5L, 2);
    assertArrayEquals(a.centroids(), b.centroids());
  }

  @Test
  void rejectsBadArguments() {
    float[] x = gaussian(1, 64, 40);
    assertMessage(() -> ProductQuantizer.train(x, 64, 40, 3, 5, 5, 1),
        "d = 40 is not divisible by m = 3: choose m among the divisors of d (1, 2, 4, 5, 8, 10, 20, 40)");
    assertMessage(() -> ProductQuantizer.train(x, 64, 40, 10, 9, 5, 1), "nbits must be in [1, 8] (passed 9)");
    assertMessage(() -> ProductQuantizer.train(x, 64, 40, 10, 0, 5, 1), "nbits must be in [1, 8] (passed 0)");
    assertMessage(() -> ProductQuantizer.train(x, 64, 40, 41, 5, 5, 1), "m (the number of sub-quantizers)");
    assertMessage(() -> ProductQuantizer.train(x, 16, 40, 10, 5, 5, 1), "data holds 2560 floats, but n * d");
    float[] few = gaussian(1, 16, 40);
    assertMessage(() -> ProductQuantizer.train(few, 16, 40, 10, 5, 5, 1),
        "needs at least 2^5 = 32 vectors (passed n = 16)");
    ProductQuantizer pq = ProductQuantizer.train(x, 64, 40, 10, 5, 5, 1);
    assertMessage(() -> pq.encode(new float[39]), "vector must hold d = 40 floats (passed 39 floats)");
    assertMessage(() -> pq.lookupTable(null), "query must hold d = 40 floats (passed null)");
    assertMessage(() -> pq.decode(new byte[6]), "a code is 7 bytes (m * nbits = 50 bits)");
    assertMessage(() -> pq.adc(new float[10], new byte[7]), "table must be a lookup table of m * 2^nbits = 320");
    assertMessage(() -> pq.adc(new float[320], new byte[14], 8), "offset 8 leaves 6 in an array of 14");
    assertMessage(() -> ProductQuantizer.fromCentroids(40, 10, 5, new float[5]), "centroids holds 5 floats");
    float[] inf = new float[40];
    inf[3] = Float.POSITIVE_INFINITY;
    assertMessage(() -> pq.encode(inf), "vector row 0, column 3 is Infinity");
  }
}
