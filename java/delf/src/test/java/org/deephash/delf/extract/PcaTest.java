package org.deephash.delf.extract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PcaTest {
  @Test
  void findsTheDirectionsOfLargestVarianceInOrder() {
    // data spread 10 along e2, 3 along e0, 0.1 along e1 and e3
    int n = 4000;
    int d = 4;
    float[] x = new float[n * d];
    SplittableRandom r = new SplittableRandom(5);
    for (int i = 0; i < n; i++) {
      x[i * d] = (float) (3 * r.nextGaussian()) + 1;
      x[i * d + 1] = (float) (0.1 * r.nextGaussian()) - 2;
      x[i * d + 2] = (float) (10 * r.nextGaussian()) + 5;
      x[i * d + 3] = (float) (0.1 * r.nextGaussian());
    }
    Pca p = Pca.fit(x, n, d, 2);
    assertEquals(1, p.mean()[0], 0.2);
    assertEquals(5, p.mean()[2], 0.6);
    assertEquals(1.0, Math.abs(p.components()[2]), 1e-3, "first component = e2");
    assertEquals(1.0, Math.abs(p.components()[d]), 1e-3, "second component = e0");
    // components are orthonormal
    double dot = 0;
    for (int k = 0; k < d; k++) {
      dot += p.components()[k] * p.components()[d + k];
    }
    assertEquals(0, dot, 1e-4);
    // projections are unit vectors: (x - mean) along e2 and e0, normalised
    float[] y = p.apply(new float[] {1 + 3, -2, 5 + 4, 0}, 1);
    assertEquals(0.8, Math.abs(y[0]), 0.02);
    assertEquals(0.6, Math.abs(y[1]), 0.02);
    assertThrows(IllegalArgumentException.class, () -> Pca.fit(x, n, d, 5));
    assertThrows(IllegalArgumentException.class, () -> p.apply(new float[3], 1));
  }
}
