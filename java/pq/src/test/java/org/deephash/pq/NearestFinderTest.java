package org.deephash.pq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The transposed nearest-centroid search against a plain one, written here: the lowest index among
 * the centroids at the smallest float distance summed dimension by dimension, on random data, exact
 * duplicate centroids (ties) and points equidistant from two centroids.
 */
class NearestFinderTest {
  static int reference(float[] cents, int k, int d, float[] x, int xo) {
    int best = -1;
    float bestDist = 0;
    for (int c = 0; c < k; c++) {
      float s = 0f;
      for (int j = 0; j < d; j++) {
        float t = x[xo + j] - cents[c * d + j];
        s += t * t;
      }
      if (best < 0 || s < bestDist) {
        best = c;
        bestDist = s;
      }
    }
    return best;
  }

  @ParameterizedTest
  @CsvSource({"1, 1", "7, 3", "16, 40", "33, 40", "3196, 40", "100, 17"})
  void agreesWithThePlainSearch(int k, int d) {
    SplittableRandom r = new SplittableRandom(k * 31L + d);
    float[] cents = new float[k * d];
    for (int i = 0; i < cents.length; i++) {
      cents[i] = (float) r.nextGaussian();
    }
    // duplicates: the later copy must never win
    for (int c = 1; c < k; c += 5) {
      System.arraycopy(cents, (c - 1) * d, cents, c * d, d);
    }
    int n = 400;
    float[] x = new float[n * d];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < d; j++) {
        // a third of the points sit on a centroid, a third halfway between two, the rest anywhere
        int a = r.nextInt(k);
        int b = r.nextInt(k);
        x[i * d + j] = switch (i % 3) {
          case 0 -> cents[a * d + j];
          case 1 -> (cents[a * d + j] + cents[b * d + j]) / 2;
          default -> (float) (2 * r.nextGaussian());
        };
      }
    }
    Vectors.NearestFinder f = new Vectors.NearestFinder(cents, k, d);
    float[] dist = f.scratch();
    for (int i = 0; i < n; i++) {
      assertEquals(reference(cents, k, d, x, i * d), f.nearest(x, i * d, dist), "point " + i);
    }
  }

  /**
   * Without the Vector API module (a child JVM) the plain loop runs, and an index trained, filled
   * and searched there answers bit for bit as on the Vector API here.
   */
  @org.junit.jupiter.api.Test
  void aJvmWithoutTheVectorModuleGivesTheSameIndexAndAnswers() throws Exception {
    String here = NoVectorPqMain.answer();
    assertTrue(here.startsWith("vector=true"), "the tests run with the module");
    java.util.List<String> cmd = java.util.List.of(
        java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), NoVectorPqMain.class.getName());
    Process p = new ProcessBuilder(cmd).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim();
    String err = new String(p.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "the child JVM did not finish");
    assertEquals(0, p.exitValue(), err);
    assertEquals(here.replace("vector=true", "vector=false"), out);
  }
}
