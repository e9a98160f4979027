package org.deephash.delf.search;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.deephash.cli.api.Progress;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.extract.Pca;
import org.junit.jupiter.api.Test;

/**
 * The streamed database against a plain reference: PCA fitted on the concatenated descriptors of
 * the images the stream held before fitting, every descriptor projected by it, entries grouped by
 * image with their keypoints.
 */
class DelfDatabaseBuilderTest {
  private static final int DIM = 24;
  private static final int PCA_DIM = 10;

  /** Images of 0 to 60 keypoints with anisotropic random descriptors, some empty. */
  private static List<LocalFeatures> images(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    List<LocalFeatures> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int c = i % 7 == 3 ? 0 : 1 + r.nextInt(60);
      float[] d = new float[c * DIM];
      float[] xy = new float[2 * c];
      for (int j = 0; j < c; j++) {
        for (int k = 0; k < DIM; k++) {
          // the mean and spread drift with the image, so a fit on the first images differs from one on all
          d[j * DIM + k] = (float) ((k + 1 + i * 0.05) * r.nextGaussian() + 0.1 * i * (k % 3));
        }
        xy[2 * j] = r.nextInt(300);
        xy[2 * j + 1] = r.nextInt(200);
      }
      out.add(new LocalFeatures(c, DIM, d, xy, new float[c], new float[c]));
    }
    return out;
  }

  private static float[] concat(List<LocalFeatures> fs) {
    int n = fs.stream().mapToInt(LocalFeatures::count).sum();
    float[] x = new float[n * DIM];
    int o = 0;
    for (LocalFeatures f : fs) {
      System.arraycopy(f.descriptors(), 0, x, o, f.descriptors().length);
      o += f.descriptors().length;
    }
    return x;
  }

  private static DelfDatabase build(List<LocalFeatures> fs, int sample) {
    DelfDatabase.Builder b = new DelfDatabase.Builder(DIM, PCA_DIM, sample);
    fs.forEach(b::add);
    return b.finish(16, Progress.none(), new java.io.PrintStream(java.io.OutputStream.nullOutputStream()),
        System.nanoTime());
  }

  private static void assertMatchesReference(List<LocalFeatures> fs, int fittedImages, DelfDatabase db) {
    float[] all = concat(fs);
    int n = all.length / DIM;
    List<LocalFeatures> head = fs.subList(0, fittedImages);
    Pca ref = Pca.fit(concat(head), head.stream().mapToInt(LocalFeatures::count).sum(), DIM, PCA_DIM);
    assertArrayEquals(ref.mean(), db.pca().mean());
    assertArrayEquals(ref.components(), db.pca().components());
    assertArrayEquals(ref.apply(all, n), db.exact(), "every descriptor projected by the fitted PCA");
    assertEquals(fs.size(), db.images());
    assertEquals(n, db.index().size());
    for (int i = 0; i < fs.size(); i++) {
      LocalFeatures f = fs.get(i);
      LocalFeatures g = db.features(i);
      assertEquals(f.count(), g.count(), "image " + i);
      assertArrayEquals(f.xy(), g.xy(), "image " + i + "'s keypoints");
      assertArrayEquals(ref.apply(f.descriptors(), f.count()), g.descriptors(), "image " + i);
    }
  }

  @Test
  void aSampleAsLargeAsTheDatabaseFitsOnEveryDescriptor() {
    List<LocalFeatures> fs = images(40, 1);
    assertMatchesReference(fs, fs.size(), build(fs, 1 << 20));
  }

  @Test
  void aSmallerSampleFitsOnTheFirstImagesUntilItIsReachedAndProjectsTheRestAsTheyCome() {
    List<LocalFeatures> fs = images(40, 2);
    int sample = 200;
    int held = 0;
    int fitted = 0;
    while (held < sample) {
      held += fs.get(fitted++).count();
    }
    assertTrue(fitted < fs.size() / 2, "the sample ends early in the stream");
    DelfDatabase db = build(fs, sample);
    assertMatchesReference(fs, fitted, db);
    // and the fit differs from one on every descriptor: the sample matters
    Pca onAll = Pca.fit(concat(fs), concat(fs).length / DIM, DIM, PCA_DIM);
    assertTrue(Math.abs(onAll.mean()[1] - db.pca().mean()[1]) > 1e-3);
  }

  @Test
  void refusesOtherDescriptorWidthsAndTooSmallSamples() {
    DelfDatabase.Builder b = new DelfDatabase.Builder(DIM, PCA_DIM, 100);
    var e = assertThrows(IllegalArgumentException.class,
        () -> b.add(new LocalFeatures(1, 4, new float[4], new float[2], new float[1], new float[1])));
    assertEquals("descriptors of 4 floats, the database takes 24", e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new DelfDatabase.Builder(DIM, PCA_DIM, 1));
  }
}
