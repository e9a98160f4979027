package org.deephash.delf.search;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.geometry.Ransac;
import org.deephash.pq.IvfPqIndex;
import org.junit.jupiter.api.Test;

/**
 * Votes, shortlist and RANSAC on synthetic local features: the query holds a transformed copy of
 * one database image's keypoints plus clutter; decoys share its descriptors but not its geometry.
 */
class DelfSearchTest {
  static final int D = 40;
  static final int PER = 80;

  @Test
  void ransacPromotesTheGeometricallyConsistentImage() {
    SplittableRandom r = new SplittableRandom(11);
    int images = 6;
    float[] desc = new float[images * PER * D];
    float[] xy = new float[images * PER * 2];
    int[] ids = new int[images * PER];
    for (int i = 0; i < images * PER; i++) {
      ids[i] = i / PER;
      xy[2 * i] = (float) (r.nextDouble() * 300);
      xy[2 * i + 1] = (float) (r.nextDouble() * 200);
      for (int k = 0; k < D; k++) {
        desc[i * D + k] = (float) r.nextGaussian();
      }
      Extractor.normalize(desc, i * D, D);
    }
    // image 4 is a decoy: the descriptors of image 2 (so as many votes) at shuffled places
    System.arraycopy(desc, 2 * PER * D, desc, 4 * PER * D, PER * D);
    IvfPqIndex index = IvfPqIndex.train(desc, images * PER, D, IvfPqIndex.Params.delf(8));
    index.add(desc, images * PER, ids, xy);

    // the query: image 2's first 50 keypoints under a known affine map, plus 30 clutter keypoints
    int n = 80;
    float[] qd = new float[n * D];
    float[] qxy = new float[2 * n];
    for (int i = 0; i < n; i++) {
      if (i < 50) {
        int src = 2 * PER + i;
        System.arraycopy(desc, src * D, qd, i * D, D);
        float x = xy[2 * src];
        float y = xy[2 * src + 1];
        qxy[2 * i] = 0.8f * x - 0.2f * y + 15;
        qxy[2 * i + 1] = 0.1f * x + 0.9f * y - 7;
      } else {
        for (int k = 0; k < D; k++) {
          qd[i * D + k] = (float) r.nextGaussian();
        }
        Extractor.normalize(qd, i * D, D);
        qxy[2 * i] = (float) (r.nextDouble() * 300);
        qxy[2 * i + 1] = (float) (r.nextDouble() * 200);
      }
    }
    LocalFeatures q = new LocalFeatures(n, D, qd, qxy, new float[n], new float[n]);
    DelfSearch s = new DelfSearch(index, images, new DelfSearch.Params(2, 8, 6, 6, 300));
    DelfSearch.Answer votes = s.search(q, null);
    // by votes, images 2 and 4 both score high (the same descriptors: each is the other's second neighbour)
    assertTrue(votes.votes()[2] >= 40, "most of the 50 copied descriptors find their twin: " + votes.votes()[2]);
    assertTrue(votes.votes()[4] >= 40, "and the decoy's copy of it: " + votes.votes()[4]);
    assertTrue(votes.images()[0] == 2 || votes.images()[0] == 4);
    DelfSearch.Answer verified = s.search(q, DelfDatabase.ransac(new Ransac.Options(500, 2.0, 6, 0)));
    assertEquals(2, verified.images()[0], "the image whose keypoints fit one affine map");
    assertArrayEquals(votes.images(), verified.byVotes(), "the votes ranking comes from the same pass");
    assertTrue(verified.inliers()[2] >= 35, "inliers " + verified.inliers()[2]);
    assertTrue(verified.inliers()[4] < 6, "the decoy's matches are geometrically inconsistent");
    // ranked by ln(votes) + 0.03 x significance (the default), the significance above chance
    assertTrue(verified.significance()[2] > 20, "significance " + verified.significance()[2]);
    assertEquals(0, verified.significance()[4]);
    assertEquals(Math.log(verified.votes()[2]) + 0.03 * verified.significance()[2], verified.scores()[0], 1e-9);
    DelfSearch.Answer byInliers = new DelfSearch(index, images, new DelfSearch.Params(2, 8, 6, 6, 300)
        .withOrder(DelfSearch.Order.INLIERS)).search(q, DelfDatabase.ransac(new Ransac.Options(500, 2.0, 6, 0)));
    assertEquals(2, byInliers.images()[0]);
    assertEquals(byInliers.inliers()[2] + byInliers.votes()[2] / (double) (n + 1), byInliers.scores()[0], 1e-9);

    // verification by exact matching against the database's own descriptors gives the same verdict
    DelfDatabase db = new DelfDatabase(index, null, images, desc, 0);
    DelfSearch.Answer exact = new DelfSearch(db, new DelfSearch.Params(2, 8, 6, 6, 300))
        .search(q, DelfDatabase.ransac(new Ransac.Options(500, 2.0, 6, 0)));
    assertEquals(2, exact.images()[0]);
    assertTrue(exact.inliers()[2] >= 45, "exact matching finds the 50 copied keypoints: " + exact.inliers()[2]);
    assertTrue(exact.inliers()[4] < 6, "the decoy: " + exact.inliers()[4]);
    assertEquals(PER, db.features(2).count());
    assertEquals(xy[2 * 2 * PER], db.features(2).xy()[0]);
  }

  /**
   * Each place seen twice in the database image (two descriptors near one base descriptor at the
   * same point, as adjacent pyramid levels give) and once in the query (a third one near it): the
   * two copies are about equally near, so the ratio test drops most of the matches; ratio 1 keeps
   * the mutual nearest neighbours, and RANSAC finds them all.
   */
  @Test
  void theRatioTestDropsPlacesSeenTwiceAndRatioOneKeepsThem() {
    SplittableRandom r = new SplittableRandom(5);
    int places = 40;
    int images = 2;
    int per = 2 * places;
    float[] desc = new float[images * per * D];
    float[] base = new float[images * places * D];
    float[] xy = new float[images * per * 2];
    int[] ids = new int[images * per];
    for (int i = 0; i < images * per; i++) {
      ids[i] = i / per;
      int place = i / 2;
      if (i % 2 == 0) {
        xy[2 * i] = (float) (r.nextDouble() * 300);
        xy[2 * i + 1] = (float) (r.nextDouble() * 200);
        for (int k = 0; k < D; k++) {
          base[place * D + k] = (float) r.nextGaussian();
        }
      } else { // the same place again
        xy[2 * i] = xy[2 * i - 2];
        xy[2 * i + 1] = xy[2 * i - 1];
      }
      for (int k = 0; k < D; k++) {
        desc[i * D + k] = base[place * D + k] + (float) (0.1 * r.nextGaussian());
      }
      Extractor.normalize(desc, i * D, D);
    }
    IvfPqIndex index = IvfPqIndex.train(desc, images * per, D, IvfPqIndex.Params.delf(4));
    index.add(desc, images * per, ids, xy);
    DelfDatabase db = new DelfDatabase(index, null, images, desc, 0);
    // the query: image 0's places, a third descriptor near each base, under a known affine map
    float[] qd = new float[places * D];
    float[] qxy = new float[2 * places];
    for (int p = 0; p < places; p++) {
      int src = 2 * p;
      for (int k = 0; k < D; k++) {
        qd[p * D + k] = base[p * D + k] + (float) (0.1 * r.nextGaussian());
      }
      Extractor.normalize(qd, p * D, D);
      qxy[2 * p] = 0.9f * xy[2 * src] + 0.1f * xy[2 * src + 1] + 4;
      qxy[2 * p + 1] = -0.1f * xy[2 * src] + 0.9f * xy[2 * src + 1] + 11;
    }
    LocalFeatures q = new LocalFeatures(places, D, qd, qxy, new float[places], new float[places]);
    DelfSearch.Verifier ransac = DelfDatabase.ransac(new Ransac.Options(500, 2.0, 6, 0));
    DelfSearch.Answer strict = new DelfSearch(db, new DelfSearch.Params(4, 4, 2, 6, 300)).search(q, ransac);
    DelfSearch.Answer all = new DelfSearch(db, new DelfSearch.Params(4, 4, 2, 6, 300, 1.0)).search(q, ransac);
    // measured: 18 against 40
    assertTrue(strict.inliers()[0] <= 2 * all.inliers()[0] / 3, "ratio 0.9: " + strict.inliers()[0] + ", ratio 1: "
        + all.inliers()[0]);
    assertTrue(all.inliers()[0] >= places - 2, "ratio 1: " + all.inliers()[0]);
    assertEquals(0, all.images()[0]);
    assertEquals(DelfSearch.RATIO, new DelfSearch.Params(4, 4, 2, 6, 300).ratio());
    org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new DelfSearch.Params(4, 4, 2, 6, 300, 0));
    org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new DelfSearch.Params(4, 4, 2, 6, 300, 1.01));
  }

  @Test
  void implausibleAffineModelsAreNotEvidence() {
    assertTrue(DelfDatabase.plausible(new double[] {1, 0, 5, 0, 1, -3}));
    assertTrue(DelfDatabase.plausible(new double[] {0.8, -0.2, 15, 0.1, 0.9, -7}));
    assertTrue(DelfDatabase.plausible(new double[] {0.4, 0, 0, 0, 0.4, 0}), "a zoom out of 2.5x");
    assertFalse(DelfDatabase.plausible(new double[] {-1, 0, 0, 0, 1, 0}), "a mirror");
    assertFalse(DelfDatabase.plausible(new double[] {1, 1, 0, 1, 1.0001, 0}), "everything onto a line");
    assertFalse(DelfDatabase.plausible(new double[] {0.01, 0, 0, 0, 0.01, 0}), "everything onto a point");
    assertFalse(DelfDatabase.plausible(new double[] {6, 0, 0, 0, 0.5, 0}), "12x anisotropy");
  }

  @Test
  void anEmptyQueryRanksByIndex() {
    float[] d = new float[40 * D];
    SplittableRandom r = new SplittableRandom(1);
    for (int i = 0; i < d.length; i++) {
      d[i] = (float) r.nextGaussian();
    }
    IvfPqIndex index = IvfPqIndex.train(d, 40, D, IvfPqIndex.Params.delf(2));
    index.add(d, 40, new int[40], new float[80]);
    DelfSearch.Answer a = new DelfSearch(index, 3, DelfSearch.Params.defaults())
        .search(new LocalFeatures(0, D, new float[0], new float[0], new float[0], new float[0]), null);
    assertEquals(3, a.images().length);
    assertEquals(0, a.images()[0]);
    assertEquals(0, a.votes()[0]);
  }
}
