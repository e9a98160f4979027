package org.deephash.delf.geometry;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class HomographyTest {

  @Test
  void rotationTurnsClockwiseOnScreenAboutItsCentre() {
    Homography r = Homography.rotation(Math.toRadians(90), 10, 20);
    assertArrayEquals(new double[] {10, 20}, r.map(10, 20), 1e-12);
    // y points down: a quarter turn takes "right of centre" to "below centre"
    assertArrayEquals(new double[] {10, 25}, r.map(15, 20), 1e-12);
  }

  @Test
  void thenAppliesThisFirst() {
    Homography t = Homography.translation(3, 4);
    Homography s = Homography.scaling(2, 10);
    assertArrayEquals(new double[] {2 * (1 + 3), 10 * (1 + 4)}, t.then(s).map(1, 1), 1e-12);
    assertArrayEquals(new double[] {2 + 3, 10 + 4}, s.then(t).map(1, 1), 1e-12);
  }

  @Test
  void inverseUndoesProjectiveMaps() {
    SplittableRandom r = new SplittableRandom(5);
    Homography h = Homography.of(1.1, 0.2, 5, -0.1, 0.9, -3, 1e-4, -2e-4, 1);
    Homography hi = h.inverse();
    for (int i = 0; i < 100; i++) {
      double x = r.nextDouble(-200, 200);
      double y = r.nextDouble(-200, 200);
      double[] q = h.map(x, y);
      assertArrayEquals(new double[] {x, y}, hi.map(q[0], q[1]), 1e-9);
    }
    assertFalse(h.isAffine());
    assertTrue(Homography.rotation(0.3, 1, 2).then(Homography.scaling(2, 3)).inverse().isAffine());
  }

  @Test
  void fourPointCorrespondencesAreMatchedExactly() {
    double[] src = {0, 0, 100, 0, 100, 80, 0, 80};
    double[] dst = {3, -2, 97, 5, 104, 83, -4, 77};
    Homography h = Homography.fromCorrespondences(src, dst);
    for (int i = 0; i < 4; i++) {
      assertArrayEquals(new double[] {dst[2 * i], dst[2 * i + 1]}, h.map(src[2 * i], src[2 * i + 1]), 1e-9);
    }
  }

  @Test
  void collinearCorrespondencesAreRejected() {
    double[] line = {0, 0, 1, 1, 2, 2, 3, 3};
    IllegalArgumentException e = assertThrows(
        IllegalArgumentException.class, () -> Homography.fromCorrespondences(line, line));
    assertTrue(e.getMessage().contains("collinear"), e.getMessage());
  }

  @Test
  void badMatricesAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> Homography.of(1, 2, 3));
    assertThrows(IllegalArgumentException.class, () -> Homography.of(1, 0, 0, 0, 1, 0, 0, 0, Double.NaN));
    assertThrows(IllegalArgumentException.class, () -> Homography.of(1, 2, 0, 2, 4, 0, 0, 0, 1));
    assertThrows(IllegalArgumentException.class, () -> Homography.affine(new double[5]));
  }

  @Test
  void affineParametersFollowTheRansacLayout() {
    Homography h = Homography.affine(new double[] {2, 3, 4, 5, 6, 7});
    assertArrayEquals(new double[] {2 * 1 + 3 * 10 + 4, 5 * 1 + 6 * 10 + 7}, h.map(1, 10), 0);
    assertEquals(3, h.get(0, 1));
    assertEquals(h, Homography.affine(2, 3, 4, 5, 6, 7));
  }
}
