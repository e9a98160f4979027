package org.deephash.delf.extract;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.util.SplittableRandom;
import org.deephash.delf.net.DelfConfig;
import org.deephash.delf.net.DelfNet;
import org.junit.jupiter.api.Test;

class ExtractorTest {
  static BufferedImage noise(int w, int h, long seed) {
    BufferedImage b = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    SplittableRandom r = new SplittableRandom(seed);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        b.setRGB(x, y, r.nextInt(1 << 24));
      }
    }
    return b;
  }

  @Test
  void keypointsAreTheMostAttendedCellsOfThePyramidMappedBackToTheImage() {
    try (DelfNet net = DelfNet.create(new DelfConfig(DelfConfig.RESIDUAL, 8, 8, 16, 16, 2, 3))) {
      BufferedImage img = noise(120, 80, 1);
      Extractor ex = new Extractor(64, new float[] {0.5f, 1f, 2f}, 50, 0f);
      LocalFeatures f = ex.extract(net, img);
      // levels: 64x40 (long side 64 -> 8x5 cells at scale 1), 32x24 -> 4x3, 128x80 -> 16x10: 40 + 12 + 160 cells
      assertEquals(50, f.count());
      assertEquals(16, f.dim());
      for (int i = 1; i < f.count(); i++) {
        assertTrue(f.scores()[i - 1] >= f.scores()[i], "sorted by attention");
      }
      for (int i = 0; i < f.count(); i++) {
        float x = f.xy()[2 * i];
        float y = f.xy()[2 * i + 1];
        assertTrue(x > 0 && x < 120 && y > 0 && y < 80, "keypoint " + x + "," + y + " inside the image");
        double n = 0;
        for (int k = 0; k < 16; k++) {
          n += f.descriptors()[i * 16 + k] * f.descriptors()[i * 16 + k];
        }
        assertEquals(1.0, n, 1e-4, "L2-normalised");
      }
      // the same cell at scale 1 of a 64x40 level maps back through the 120/64 x 80/40 ratio
      boolean foundScaleOne = false;
      for (int i = 0; i < f.count(); i++) {
        if (Math.abs(f.scales()[i] - 64f / 120) < 1e-6) {
          float cx = f.xy()[2 * i] / (120f / 64);
          float col = (cx - (net.config().stride() - 0.5f)) / net.config().stride();
          assertEquals(Math.round(col), col, 1e-3, "on a cell centre");
          foundScaleOne = true;
        }
      }
      assertTrue(foundScaleOne);
      LocalFeatures again = ex.extract(net, img);
      assertArrayEquals(f.xy(), again.xy());
      assertArrayEquals(f.descriptors(), again.descriptors());
      float[] g = ex.global(net, img);
      double n = 0;
      for (float v : g) {
        n += v * v;
      }
      assertEquals(1.0, n, 1e-4);
    }
  }

  @Test
  void batchedExtractionEqualsOneImageAtATime() {
    try (DelfNet net = DelfNet.create(new DelfConfig(DelfConfig.RESIDUAL, 8, 8, 16, 16, 2, 3))) {
      Extractor ex = new Extractor(64, new float[] {0.5f, 1f, 2f}, 40, 0f);
      // two sizes share every level, the third (portrait) shares none of them
      java.util.List<BufferedImage> images = java.util.List.of(noise(120, 80, 1), noise(120, 80, 2),
          noise(60, 90, 3), noise(120, 80, 4));
      java.util.List<LocalFeatures> batched = ex.extract(net, images, 3);
      assertEquals(images.size(), batched.size());
      for (int i = 0; i < images.size(); i++) {
        LocalFeatures one = ex.extract(net, images.get(i));
        LocalFeatures b = batched.get(i);
        assertEquals(one.count(), b.count());
        assertArrayEquals(one.xy(), b.xy(), "image " + i + " keypoints");
        assertArrayEquals(one.scales(), b.scales());
        assertArrayEquals(one.descriptors(), b.descriptors(), 1e-5f, "image " + i + " descriptors");
        assertArrayEquals(one.scores(), b.scores(), 1e-5f);
      }
      assertThrows(IllegalArgumentException.class, () -> ex.extract(net, images, 0));
    }
  }

  @Test
  void badParametersAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> new Extractor(8, new float[] {1}, 10, 0));
    assertThrows(IllegalArgumentException.class, () -> new Extractor(64, new float[] {-1}, 10, 0));
  }
}
