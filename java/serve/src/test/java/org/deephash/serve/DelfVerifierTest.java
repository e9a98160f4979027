package org.deephash.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;
import org.deephash.delf.data.Photos;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.extract.Pca;
import org.deephash.delf.geometry.Ransac;
import org.deephash.delf.net.DelfConfig;
import org.deephash.delf.net.DelfNet;
import org.deephash.delf.net.DelfTrainer;
import org.deephash.delf.search.DelfDatabase;
import org.deephash.delf.search.DelfSearch;
import org.deephash.delf.search.PairMatch;
import org.deephash.delf.search.DelfIndexFolder;
import org.deephash.io.Json;
import org.deephash.pq.IvfPqIndex;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * serve --delf over a photo index: a hand-made DELF folder whose local features are known, so the
 * inlier counts are exact. Photo 1 shares 25 of its 40 keypoints with photo 0 (same descriptors,
 * positions under a known affine map, well inside the frame); every other keypoint is random (photo
 * 1's own away from where the map sends photo 0's);
 * the last photo is left out of the DELF folder.
 */
class DelfVerifierTest {
  private static final int DIM = 8;
  private static final int PER_PHOTO = 40;
  private static final int SHARED = 25;

  @Test
  void resultsOfAQueryByPhotoCarryExactInlierCountsAndTheirCorrespondences(@TempDir Path dir) throws Exception {
    try (PhotoFixture f = new PhotoFixture(dir)) {
      int photos = f.expectedPaths.size() - 1; // the last photo has no local features
      Random rnd = new Random(7);
      float[] desc = new float[photos * PER_PHOTO * DIM];
      float[] xy = new float[photos * PER_PHOTO * 2];
      int[] image = new int[photos * PER_PHOTO];
      for (int e = 0; e < photos * PER_PHOTO; e++) {
        image[e] = e / PER_PHOTO;
        for (int j = 0; j < DIM; j++) {
          desc[e * DIM + j] = (float) rnd.nextGaussian();
        }
        xy[2 * e] = 20 + 280 * rnd.nextFloat();
        xy[2 * e + 1] = 20 + 200 * rnd.nextFloat();
        if (image[e] == 1) {
          // photo 1's own keypoints lie right of x = 295, where the map below sends none of photo 0's
          // (x' <= 282): more than the 12 px threshold from every predicted point, so no chance inlier
          xy[2 * e] = 295 + 20 * rnd.nextFloat();
        }
      }
      for (int i = 0; i < SHARED; i++) { // photo 1's first keypoints: photo 0's, moved by an affine map
        int a = i;
        int b = PER_PHOTO + i;
        System.arraycopy(desc, a * DIM, desc, b * DIM, DIM);
        xy[2 * b] = 0.8f * xy[2 * a] + 0.1f * xy[2 * a + 1] + 20;
        xy[2 * b + 1] = -0.05f * xy[2 * a] + 0.9f * xy[2 * a + 1] + 10;
      }
      IvfPqIndex index = IvfPqIndex.train(desc, photos * PER_PHOTO, DIM, new IvfPqIndex.Params(4, 2, 4, 5, 1L, 4096));
      index.add(desc, photos * PER_PHOTO, image, xy);
      float[] identity = new float[DIM * DIM];
      for (int j = 0; j < DIM; j++) {
        identity[j * DIM + j] = 1;
      }
      List<DelfIndexFolder.Image> images = new ArrayList<>();
      for (int i = 0; i < photos; i++) {
        images.add(new DelfIndexFolder.Image(i, "p" + i, f.photos.resolve(f.expectedPaths.get(i))));
      }
      Path delf = dir.resolve("delf");
      DelfIndexFolder.save(delf, index, new Pca(DIM, DIM, new float[DIM], identity), desc, images,
          new Extractor(320, Extractor.PAPER_SCALES, 1000, 0f), null);

      DelfVerifier verifier = DelfVerifier.open(delf);
      assertEquals(0, verifier.uploadSide(), "a folder that records no model verifies no upload");
      assertTrue(verifier.uploadNote().contains("--delf-model"), verifier.uploadNote());
      IndexGeneration g = f.service.acquire();
      try {
        assertEquals(photos, verifier.covered(g));
      } finally {
        g.release();
      }
      try (HttpApi api = HttpApi.start(f.service, ServeConfig.defaults().withPort(0), verifier)) {
        ApiClient client = new ApiClient(api.url());
        int k = f.expectedPaths.size();
        HttpResponse<String> r = client.postJson("{\"id\": 0, \"k\": " + k + "}");
        assertEquals(200, r.statusCode(), r.body());
        List<?> results = (List<?>) Json.object(r.body()).get("results");
        assertEquals(k, results.size());
        for (Object o : results) {
          Map<?, ?> res = (Map<?, ?>) o;
          int id = ((Number) res.get("id")).intValue();
          int inliers = ((Number) res.get("inliers")).intValue();
          int expected = id == 0 ? PER_PHOTO : id == 1 ? SHARED : 0;
          assertEquals(expected, inliers, "inliers of photo " + id);
        }

        HttpResponse<byte[]> pic = client.getBytes("/matches/0/1");
        assertEquals(200, pic.statusCode());
        assertEquals("image/png", pic.headers().firstValue("Content-Type").orElse(""));
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(pic.body()));
        // two 320 x 240 photos drawn 360 px high side by side, a 16 px gap and a 28 px caption
        assertEquals(480 + 16 + 480, img.getWidth());
        assertEquals(360 + 28, img.getHeight());

        HttpResponse<String> missing = client.get("/matches/0/" + photos);
        assertEquals(404, missing.statusCode());
        assertTrue(missing.body().contains("no local features"), missing.body());

        // a query whose own photo has no local features: no inlier counts at all
        HttpResponse<String> none = client.postJson("{\"id\": " + photos + ", \"k\": 3}");
        assertEquals(200, none.statusCode(), none.body());
        for (Object o : (List<?>) Json.object(none.body()).get("results")) {
          assertTrue(!((Map<?, ?>) o).containsKey("inliers"), none.body());
        }
      }
    }
  }

  @Test
  void anUploadIsVerifiedWithTheModelTheFolderRecords(@TempDir Path dir) throws Exception {
    try (PhotoFixture f = new PhotoFixture(dir)) {
      // a small untrained DELF network: its features are deterministic, which is all this needs
      Path model = dir.resolve("delf-model");
      Extractor ex = new Extractor(160, new float[] {0.7071f, 1f}, 200, 0f);
      List<Path> files = new ArrayList<>();
      for (String rel : f.expectedPaths) {
        files.add(f.photos.resolve(rel));
      }
      Path delf = dir.resolve("delf");
      try (DelfNet net = DelfNet.create(new DelfConfig(DelfConfig.RESIDUAL, 8, 8, 16, 16, 2, 3))) {
        DelfTrainer.save(net, DelfTrainer.Options.defaults(), model);
        List<BufferedImage> loaded = new ArrayList<>();
        List<DelfIndexFolder.Image> images = new ArrayList<>();
        for (Path p : files) {
          images.add(new DelfIndexFolder.Image(images.size(), p.getFileName().toString(), p));
          loaded.add(Photos.load(p, ex.baseSide()));
        }
        DelfDatabase db = DelfDatabase.build(net, ex, loaded, 10, 4, new java.io.PrintStream(
            java.io.OutputStream.nullOutputStream()));
        DelfIndexFolder.save(delf, db.index(), db.pca(), db.exact(), images, ex, model);
      }
      DelfIndexFolder.Opened opened = DelfIndexFolder.open(delf);
      assertEquals(model.toAbsolutePath().normalize(), opened.model());
      assertEquals(160, opened.extractor().baseSide());

      try (DelfVerifier verifier = DelfVerifier.open(delf);
          HttpApi api = HttpApi.start(f.service, ServeConfig.defaults().withPort(0), verifier);
          DelfNet net = DelfTrainer.open(model)) {
        assertEquals(160, verifier.uploadSide());
        ApiClient client = new ApiClient(api.url());
        Path sent = files.get(0);
        HttpResponse<String> r = client.post("/search?k=8", sent.toString().endsWith(".png") ? "image/png" : "image/jpeg",
            Files.readAllBytes(sent));
        assertEquals(200, r.statusCode(), r.body());
        Map<?, ?> answer = Json.object(r.body());
        String key = (String) ((Map<?, ?>) answer.get("query")).get("upload_key");
        assertTrue(key != null && !key.isEmpty(), r.body());

        // reference: the photo extracted from its file as delf match would, matched against each result's
        // indexed features with the server's settings
        DelfDatabase db = opened.database();
        LocalFeatures q = db.project(ex.extract(net, Photos.load(sent, 160))).head(DelfVerifier.KEYPOINTS);
        Ransac.Options ransac = new Ransac.Options(1000, DelfSearch.INLIER_THRESHOLD_PX, DelfSearch.Params.defaults().minInliers(), 0L);
        boolean sawItself = false;
        for (Object o : (List<?>) answer.get("results")) {
          Map<?, ?> res = (Map<?, ?>) o;
          Path file = f.photos.resolve((String) res.get("path"));
          int image = files.indexOf(file);
          int expected = PairMatch.of(q, db.features(image, DelfVerifier.KEYPOINTS), DelfSearch.Params.defaults().ratio(), ransac).inliers();
          assertEquals(expected, ((Number) res.get("inliers")).intValue(), "inliers of " + file);
          if (file.equals(sent)) {
            sawItself = true;
            assertTrue(expected >= 12, "the uploaded photo against itself: " + expected + " inliers");
          }
        }
        assertTrue(sawItself, "the uploaded photo is among its own results: " + r.body());

        long first = ((Number) ((Map<?, ?>) ((List<?>) answer.get("results")).get(0)).get("id")).longValue();
        HttpResponse<byte[]> pic = client.getBytes("/matches/upload-" + key + "/" + first);
        assertEquals(200, pic.statusCode());
        assertEquals("image/png", pic.headers().firstValue("Content-Type").orElse(""));
        HttpResponse<String> gone = client.get("/matches/upload-0123abc/" + first);
        assertEquals(404, gone.statusCode());
        assertTrue(gone.body().contains("no recent upload"), gone.body());
      }
    }
  }

  @Test
  void aFolderThatIsNotADelfIndexIsRefusedNamingIt(@TempDir Path dir) {
    java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
        () -> DelfVerifier.open(dir));
    assertTrue(e.getMessage().contains(dir.toString()) && e.getMessage().contains("delf index"), e.getMessage());
  }
}
