package org.deephash.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.deephash.CodeTable;
import org.deephash.SearchOptions;
import org.deephash.index.IndexFile;
import org.deephash.index.LoadedIndex;
import org.deephash.io.Json;
import org.deephash.model.data.PhotoFiles;
import org.deephash.model.data.PhotoIndex;
import org.deephash.model.data.Pixels;
import org.deephash.model.net.Encoder;
import org.deephash.model.net.Encoding;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A photo folder indexed ({@code index --photos}) and served: row paths relative to the folder,
 * skipped files reported, codes equal to encoding each photo directly, results with thumbnail
 * URLs, thumbnails made once, bounded in size and cached on disk, and no file outside the folder
 * ever read for a client.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PhotoServeTest {
  Path dir;
  PhotoFixture f;

  @BeforeAll
  void start(@TempDir Path tmp) throws Exception {
    dir = tmp;
    f = new PhotoFixture(dir);
  }

  @AfterAll
  void stop() {
    if (f != null) {
      f.close();
    }
  }

  @Test
  void indexKeepsRelativePathsAndReportsSkippedFiles() throws Exception {
    assertEquals(PhotoFixture.PHOTOS, f.indexed.rows());
    try (LoadedIndex l = IndexFile.load(f.file)) {
      assertEquals(PhotoFixture.PHOTOS, l.table().size());
      for (int r = 0; r < l.table().size(); r++) {
        assertEquals(f.expectedPaths.get(r), l.path(r), "row " + r);
      }
    }
    PhotoIndex report = PhotoIndex.read(f.file).orElseThrow();
    assertEquals(f.photos.toAbsolutePath().normalize(), report.root());
    assertEquals(PhotoFixture.PHOTOS, report.photos());
    assertEquals(List.of("broken/corrupt.jpg", "broken/modern.webp"),
        report.skipped().stream().map(PhotoFiles.Skipped::path).toList());
    assertTrue(report.skipped().get(0).reason().startsWith("not a JPEG, PNG"), report.skipped().get(0).reason());
    // a file named .webp whose bytes are not a whole WebP: read, refused, listed
    assertTrue(report.skipped().get(1).reason().startsWith("corrupt or truncated image"),
        report.skipped().get(1).reason());
    assertEquals(1, f.indexed.ignored(), "README.txt");
  }

  /** Each row's code and feature are what the encoder gives for that photo decoded on its own. */
  @Test
  void rowsEqualEncodingEachPhotoDirectly() throws Exception {
    try (LoadedIndex l = IndexFile.load(f.file); Encoder enc = Encoder.open(f.model)) {
      CodeTable t = l.table();
      for (int r : new int[] {0, 7, PhotoFixture.PHOTOS - 1}) {
        BufferedImage img = PhotoFiles.read(f.photos.resolve(l.path(r)), 56, 56);
        Encoding e = enc.encode(Pixels.of(img, 28, 28, Pixels.Channels.GREY), 1);
        assertArrayEquals(e.codes(), t.code(r), "code of row " + r);
      }
    }
  }

  @Test
  void searchResultsCarryPathsAndThumbnailUrls() throws Exception {
    HttpResponse<String> r = f.postJson("{\"id\": 3, \"k\": 6}");
    assertEquals(200, r.statusCode(), r.body());
    Map<String, Object> json = Json.object(r.body());
    Map<?, ?> q = (Map<?, ?>) json.get("query");
    assertEquals(f.expectedPaths.get(3), q.get("path"));
    assertEquals("/thumbs/3?size=480", q.get("thumb"));
    List<?> results = (List<?>) json.get("results");
    assertEquals(6, results.size());
    for (Object o : results) {
      Map<?, ?> res = (Map<?, ?>) o;
      long id = ((Number) res.get("id")).longValue();
      assertEquals(f.expectedPaths.get((int) id), res.get("path"));
      assertEquals("/thumbs/" + id, res.get("thumb"));
      assertFalse(res.containsKey("inliers"), "no local features: no inlier counts");
    }
    Map<?, ?> photos = (Map<?, ?>) ((Map<?, ?>) f.get("/stats").body().transform(Json::object).get("index"))
        .get("photos");
    assertEquals(f.photos.toAbsolutePath().normalize().toString(), photos.get("root"));
    assertEquals(2.0, ((Number) photos.get("skipped")).doubleValue());
  }

  @Test
  void thumbnailsAreMadeOnceBoundedAndCached() throws Exception {
    Path cache = Thumbnails.dirFor(f.file);
    HttpResponse<byte[]> first = f.getBytes("/thumbs/5");
    assertEquals(200, first.statusCode());
    assertEquals("image/jpeg", first.headers().firstValue("Content-Type").orElse(""));
    BufferedImage t = ImageIO.read(new ByteArrayInputStream(first.body()));
    assertEquals(160, t.getWidth(), "320 x 240 fitted within 160");
    assertEquals(120, t.getHeight());
    List<Path> files = jpegs(cache);
    assertEquals(1, files.size(), files.toString());
    FileTime made = Files.getLastModifiedTime(files.get(0));
    HttpResponse<byte[]> again = f.getBytes("/thumbs/5");
    assertArrayEquals(first.body(), again.body());
    assertEquals(1, jpegs(cache).size(), "served from the cache, not made again");
    assertEquals(made, Files.getLastModifiedTime(files.get(0)), "the cached file was not rewritten");

    BufferedImage big = ImageIO.read(new ByteArrayInputStream(f.getBytes("/thumbs/5?size=480").body()));
    assertEquals(320, big.getWidth(), "never scaled up past the photo");
    assertEquals(2, jpegs(cache).size());
    assertEquals(400, f.get("/thumbs/5?size=7").statusCode());
    assertEquals(404, f.get("/thumbs/99999").statusCode());
    assertEquals(400, f.get("/thumbs/abc").statusCode());

    // the full image is the file itself
    HttpResponse<byte[]> full = f.getBytes("/images/5");
    assertArrayEquals(Files.readAllBytes(f.photos.resolve(f.expectedPaths.get(5))), full.body());
  }

  private static List<Path> jpegs(Path cache) throws Exception {
    try (Stream<Path> s = Files.list(cache)) {
      return s.filter(p -> p.getFileName().toString().endsWith(".jpg") && !p.getFileName().toString().startsWith("."))
          .sorted().toList();
    }
  }

  /** An index written inside its own photo folder: its (hidden) thumbnail cache is not indexed next time. */
  @Test
  void aThumbnailCacheInsideThePhotoFolderIsNotIndexed() throws Exception {
    Path folder = dir.resolve("self");
    Files.createDirectories(folder);
    Files.copy(f.photos.resolve(f.expectedPaths.get(0)), folder.resolve("a.jpg"));
    Thumbnails t = new Thumbnails(Thumbnails.dirFor(folder.resolve("self.dhx")), 1);
    t.get(folder.resolve("a.jpg"), 160);
    assertEquals(1, t.generated());
    assertEquals(1, jpegs(Thumbnails.dirFor(folder.resolve("self.dhx"))).size());
    assertEquals(List.of("a.jpg"), PhotoFiles.scan(folder).photos());
  }

  /**
   * A bounded cache: photos of a few hundred KiB of noise make thumbnails of tens of KiB; with a
   * 1 MiB bound, adding them one by one keeps the cache within it by deleting the least recently
   * used, and a thumbnail used again stays while older ones go.
   */
  @Test
  void theThumbnailCacheStaysWithinItsBoundDroppingTheLeastRecentlyUsed() throws Exception {
    Path folder = dir.resolve("noise");
    Files.createDirectories(folder);
    java.util.SplittableRandom rnd = new java.util.SplittableRandom(3);
    int n = 40;
    for (int i = 0; i < n; i++) {
      java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(480, 480,
          java.awt.image.BufferedImage.TYPE_INT_RGB);
      for (int y = 0; y < 480; y++) {
        for (int x = 0; x < 480; x++) {
          img.setRGB(x, y, rnd.nextInt(1 << 24));
        }
      }
      javax.imageio.ImageIO.write(img, "png", folder.resolve(String.format("n%02d.png", i)).toFile());
    }
    Path cache = Thumbnails.dirFor(folder.resolve("noise.dhx"));
    Thumbnails t = new Thumbnails(cache, 1, 1 << 20);
    byte[] first = t.get(folder.resolve("n00.png"), 480);
    long clock = System.currentTimeMillis() - 3_600_000;
    for (int i = 1; i < n; i++) {
      // thumbnails made in order, one second apart; n00 is used again after each one
      for (Path p : jpegs(cache)) {
        if (Files.getLastModifiedTime(p).toMillis() > clock) {
          Files.setLastModifiedTime(p, java.nio.file.attribute.FileTime.fromMillis(clock));
        }
      }
      clock += 1000;
      t.get(folder.resolve(String.format("n%02d.png", i)), 480);
      assertArrayEquals(first, t.get(folder.resolve("n00.png"), 480));
      long onDisk = 0;
      for (Path p : jpegs(cache)) {
        onDisk += Files.size(p);
      }
      assertTrue(onDisk <= 1 << 20, "cache holds " + onDisk + " bytes after " + (i + 1) + " thumbnails");
      assertEquals(onDisk, t.bytes());
    }
    assertTrue(t.evicted() > 0 && first.length * (long) n > 1 << 20, "the photos overflow the bound: "
        + first.length + " bytes each");
    assertEquals(n, t.generated(), "n00 was never made twice: always a hit");
    assertTrue(jpegs(cache).size() < n);
  }

  @Test
  void correspondencesAreA404WithoutLocalFeatures() throws Exception {
    HttpResponse<String> r = f.get("/matches/1/2");
    assertEquals(404, r.statusCode());
    assertTrue(r.body().contains("DELF"), r.body());
    assertEquals(400, f.get("/matches/1").statusCode());
  }

  /** A path that leaves the photo folder (a hand-made index) is never read: 404, for the image and the thumbnail. */
  @Test
  void pathsOutsideTheFolderAreNotServed() throws Exception {
    Path outside = dir.resolve("secret.png");
    Files.copy(f.photos.resolve(f.expectedPaths.get(1)), outside);
    Path hostile = dir.resolve("hostile.dhx");
    try (LoadedIndex l = IndexFile.load(f.file)) {
      CodeTable t = l.table();
      try (CodeTable two = CodeTable.create(t.bits(), t.dim(), false, 2)) {
        for (int r = 0; r < 2; r++) {
          two.add(r, t.code(r), t.feature(r), 0);
        }
        IndexFile.save(two, hostile, List.of("../secret.png", outside.toString()));
      }
    }
    new PhotoIndex(f.photos.toAbsolutePath().normalize(), 2, List.of()).write(hostile);
    try (SearchService s = SearchService.open(hostile, new SearchOptions(null, 1), null, ServeConfig.defaults(),
            line -> {});
        HttpApi api = HttpApi.start(s, ServeConfig.defaults().withPort(0))) {
      for (String route : List.of("/images/0", "/images/1", "/thumbs/0", "/thumbs/1")) {
        HttpResponse<String> r = f.client.http.send(java.net.http.HttpRequest.newBuilder(
            java.net.URI.create(api.url()).resolve(route)).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(404, r.statusCode(), route + ": " + r.body());
        assertNotNull(Json.object(r.body()).get("error"));
      }
    }
  }
}
