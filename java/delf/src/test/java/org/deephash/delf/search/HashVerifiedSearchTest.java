package org.deephash.delf.search;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.geometry.Ransac;
import org.junit.jupiter.api.Test;

/**
 * The Hamming shortlist verified by DELF matching: 16-bit codes put a decoy nearest to the query,
 * the true image second and another one third; only the true image's keypoints fit one affine map
 * with the query's, so verification moves it first; images outside the shortlist are never verified.
 */
class HashVerifiedSearchTest {
  static final int D = 40;
  static final int PER = 60;
  static final int IMAGES = 8;

  /** Codes at Hamming distance: image 5 -> 1, image 2 -> 2, image 6 -> 3, others >= 6 from the query 0x0000. */
  static final int[] CODES = {0x3f00, 0x0fff, 0x0003, 0xff00, 0xf0f0, 0x0100, 0x0700, 0xffff};

  @Test
  void verificationReordersTheShortlistOnly() {
    SplittableRandom r = new SplittableRandom(5);
    LocalFeatures[] db = new LocalFeatures[IMAGES];
    for (int i = 0; i < IMAGES; i++) {
      db[i] = random(r, PER);
    }
    // image 5 (the decoy) holds image 2's descriptors at other places
    db[5] = new LocalFeatures(PER, D, db[2].descriptors().clone(), random(r, PER).xy(), new float[PER],
        new float[PER]);
    // the query: image 2's keypoints under an affine map
    float[] qxy = new float[2 * PER];
    for (int i = 0; i < PER; i++) {
      float x = db[2].xy()[2 * i];
      float y = db[2].xy()[2 * i + 1];
      qxy[2 * i] = 0.9f * x - 0.1f * y + 12;
      qxy[2 * i + 1] = 0.05f * x + 0.95f * y - 4;
    }
    LocalFeatures q = new LocalFeatures(PER, D, db[2].descriptors().clone(), qxy, new float[PER], new float[PER]);
    try (CodeTable table = CodeTable.create(16, 0, false, IMAGES)) {
      byte[] codes = new byte[IMAGES * 2];
      for (int i = 0; i < IMAGES; i++) {
        codes[2 * i] = (byte) CODES[i];
        codes[2 * i + 1] = (byte) (CODES[i] >>> 8);
      }
      table.addAll(null, codes, null, null);
      try (GpuHashSearch search = GpuHashSearch.open(table)) {
        byte[] query = {0, 0};
        int[] verifiedCalls = new int[IMAGES];
        java.util.function.IntFunction<LocalFeatures> features = i -> {
          verifiedCalls[i]++;
          return db[i];
        };
        DelfSearch.Verifier ransac = DelfDatabase.ransac(new Ransac.Options(500, 2.0, 6, 0));
        HashVerifiedSearch.Answer hamming = new HashVerifiedSearch(search, features, null,
            new HashVerifiedSearch.Params(3, 12, 300)).search(query, q);
        assertArrayEquals(new int[] {5, 2, 6}, hamming.images(), "the Hamming shortlist");
        assertArrayEquals(new int[] {1, 2, 3}, hamming.hamming());
        assertArrayEquals(new int[3], hamming.inliers());

        HashVerifiedSearch.Answer a = new HashVerifiedSearch(search, features, ransac,
            new HashVerifiedSearch.Params(3, 12, 300)).search(query, q);
        assertArrayEquals(new int[] {2, 5, 6}, a.images(), "verified first, then Hamming order");
        assertArrayEquals(new int[] {2, 1, 3}, a.hamming());
        assertTrue(a.inliers()[0] >= 50, "inliers of the true image: " + a.inliers()[0]);
        assertEquals(0, a.inliers()[1], "the decoy matches but does not fit one map");
        assertTrue(a.matches()[1] >= 50, "the decoy's tentative matches: " + a.matches()[1]);
        assertTrue(a.significance()[0] > 20, "significance of the true image: " + a.significance()[0]);
        assertEquals(0, a.significance()[1], "nothing verified, nothing significant");
        HashVerifiedSearch.Answer byInliers = new HashVerifiedSearch(search, features, ransac,
            new HashVerifiedSearch.Params(3, 12, 300, 0.9, DelfSearch.Order.INLIERS)).search(query, q);
        assertArrayEquals(new int[] {2, 5, 6}, byInliers.images(), "the old rule: inliers first");
        assertArrayEquals(a.inliers(), byInliers.inliers());
        for (int i : new int[] {0, 1, 3, 4, 7}) {
          assertEquals(0, verifiedCalls[i], "image " + i + " is outside the shortlist");
        }

        // with F7 features the unverified part of the shortlist goes by F7 distance: 6 nearest, then 5
        float[][] f7 = new float[IMAGES][];
        for (int i = 0; i < IMAGES; i++) {
          f7[i] = new float[] {i == 6 ? 0.1f : i == 5 ? 0.2f : 0.9f, 0};
        }
        HashVerifiedSearch hds = new HashVerifiedSearch(search, features, null,
            new HashVerifiedSearch.Params(3, 12, 300)).withF7(i -> f7[i]);
        assertArrayEquals(new int[] {6, 5, 2}, hds.search(query, new float[] {0, 0}, q).images());
        assertArrayEquals(new int[] {5, 2, 6}, hds.search(query, null, q).images(), "no query F7: Hamming order");
        HashVerifiedSearch both = new HashVerifiedSearch(search, features, ransac,
            new HashVerifiedSearch.Params(3, 12, 300)).withF7(i -> f7[i]);
        assertArrayEquals(new int[] {2, 5, 6}, both.search(query, new float[] {0, 0}, q).images(),
            "verified first, then by tentative matches (the decoy's), then F7 order");
        IllegalStateException noF7 = assertThrows(IllegalStateException.class, () -> new HashVerifiedSearch(search,
            features, null, new HashVerifiedSearch.Params(3, 12, 300)).search(query, new float[] {0, 0}, q));
        assertTrue(noF7.getMessage().contains("withF7"), noF7.getMessage());

        // a pool of 8 by Hamming, re-ranked by F7 (image 7, the farthest code, is nearest in F7), 1 verified
        float[][] g7 = new float[IMAGES][];
        for (int i = 0; i < IMAGES; i++) {
          g7[i] = new float[] {i == 7 ? 0f : 1f + i, 0};
        }
        int[] calls = new int[IMAGES];
        HashVerifiedSearch.Answer pooled = new HashVerifiedSearch(search, i -> {
          calls[i]++;
          return db[i];
        }, ransac, new HashVerifiedSearch.Params(1, 12, 300)).withF7(i -> g7[i], 8).search(query, new float[2], q);
        assertEquals(IMAGES, pooled.images().length);
        assertEquals(7, pooled.images()[0], "nearest in F7");
        assertEquals(16, pooled.hamming()[0]);
        assertArrayEquals(new int[] {0, 0, 0, 0, 0, 0, 0, 1}, calls, "only the first of the F7 order is verified");
        assertThrows(IllegalArgumentException.class, () -> new HashVerifiedSearch(search, features, null,
            HashVerifiedSearch.Params.defaults()).withF7(i -> g7[i], -1));

        // a Hamming shortlist of 1 holds the decoy only; the global descriptor adds the true image
        // (its nearest) and image 6, then 5 again (already there): 2 is verified and comes first
        float[][] glob = new float[IMAGES][];
        for (int i = 0; i < IMAGES; i++) {
          glob[i] = new float[] {i == 2 ? 1f : i == 6 ? 0.8f : i == 5 ? 0.7f : 0f, i == 2 ? 0f : 0.5f};
        }
        int[] gcalls = new int[IMAGES];
        HashVerifiedSearch widened = new HashVerifiedSearch(search, i -> {
          gcalls[i]++;
          return db[i];
        }, ransac, new HashVerifiedSearch.Params(1, 12, 300)).withGlobal(i -> glob[i], IMAGES, 3);
        HashVerifiedSearch.Answer w = widened.search(query, null, new float[] {1, 0}, q);
        assertArrayEquals(new int[] {2, 5, 6}, w.images(), "the true image verified first, then by matches");
        assertArrayEquals(new int[] {-1, 1, -1}, w.hamming(), "added by the global descriptor: -1");
        assertTrue(w.inliers()[0] >= 50, "inliers " + w.inliers()[0]);
        assertArrayEquals(new int[] {0, 0, 1, 0, 0, 1, 1, 0}, gcalls, "the union, each verified once");
        HashVerifiedSearch.Answer narrow = widened.search(query, null, null, q);
        assertArrayEquals(new int[] {5}, narrow.images(), "no query descriptor: the Hamming shortlist alone");
        IllegalStateException noGlobal = assertThrows(IllegalStateException.class, () -> new HashVerifiedSearch(search,
            features, null, new HashVerifiedSearch.Params(3, 12, 300)).search(query, null, new float[2], q));
        assertTrue(noGlobal.getMessage().contains("withGlobal"), noGlobal.getMessage());
        assertThrows(IllegalArgumentException.class, () -> widened.search(query, null, new float[3], q));

        // a shortlist longer than the database holds the whole database
        HashVerifiedSearch.Answer all = new HashVerifiedSearch(search, features, ransac,
            new HashVerifiedSearch.Params(100, 12, 300)).search(query, q);
        assertEquals(IMAGES, all.images().length);
        assertEquals(2, all.images()[0]);
      }
    }
  }

  @Test
  void badArgumentsAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> new HashVerifiedSearch.Params(0, 12, 300));
    assertThrows(IllegalArgumentException.class, () -> new HashVerifiedSearch.Params(10, 12, 300, 0.9, null));
    assertThrows(IllegalArgumentException.class, () -> new HashVerifiedSearch.Params(10, 12, 300, 0, DelfSearch.Order.INLIERS));
    assertThrows(IllegalArgumentException.class, () -> new HashVerifiedSearch.Params(10, -1, 300));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new HashVerifiedSearch(null, i -> null, null, HashVerifiedSearch.Params.defaults()));
    assertTrue(e.getMessage().contains("required"), e.getMessage());
  }

  static LocalFeatures random(SplittableRandom r, int n) {
    float[] d = new float[n * D];
    float[] xy = new float[2 * n];
    for (int i = 0; i < n; i++) {
      for (int k = 0; k < D; k++) {
        d[i * D + k] = (float) r.nextGaussian();
      }
      Extractor.normalize(d, i * D, D);
      xy[2 * i] = (float) (r.nextDouble() * 300);
      xy[2 * i + 1] = (float) (r.nextDouble() * 200);
    }
    return new LocalFeatures(n, D, d, xy, new float[n], new float[n]);
  }
}
