package org.deephash.delf.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.IntStream;
import org.deephash.cli.api.Progress;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The composition of both benchmarks on a tiny photo folder and a fake opencv-doc folder. */
class BenchmarkSetTest {

  @TempDir Path dir;

  private Path pairs;
  private Photos photos;

  private static final int SIDE = 32;
  private static final long SEED = 7;

  /**
   * Photos: held-out h1, h2, h3 and x:aero-copy.jpg (the bytes of the pairs folder's aero1.jpg, so
   * by SHA-256 a pair image); training t1 and t2 (one scene group) and opencv-doc:graf1.png (other
   * bytes than the pairs folder's, a pair image by its id); distractors d1, d2. Pairs folder: every pair, plus
   * starry_night.jpg (a distractor), apple.png (the bytes of t1: a manifest photo, left out) and
   * tiny.png (too small).
   */
  @BeforeEach
  void folders() throws IOException {
    pairs = dir.resolve("opencv-doc");
    RealPairsTest.fakeOpencvDoc(pairs);
    RealPairsTest.image(pairs, "starry_night.jpg", 200, 150, 50);
    RealPairsTest.image(pairs, "tiny.png", 50, 50, 51);
    Path root = dir.resolve("photos");
    List<String> lines = new ArrayList<>(List.of(String.join("\t", Photos.HEADER)));
    lines.add(line(root, "a:h1.png", RealPairsTest.image(root.resolve("a"), "h1.png", 80, 60, 60), "heldout"));
    lines.add(line(root, "a:h2.png", RealPairsTest.image(root.resolve("a"), "h2.png", 60, 80, 61), "heldout"));
    lines.add(line(root, "a:h3.jpg", RealPairsTest.image(root.resolve("a"), "h3.jpg", 90, 50, 62), "heldout"));
    Path aero = Files.createDirectories(root.resolve("x")).resolve("aero-copy.jpg");
    Files.copy(pairs.resolve("aero1.jpg"), aero);
    lines.add(line(root, "x:aero-copy.jpg", aero, "heldout"));
    Path t1 = RealPairsTest.image(root.resolve("a"), "t1.png", 130, 130, 63);
    lines.add(line(root, "a:t1.png", t1, "train", "a:t-scene"));
    lines.add(line(root, "a:t2.png", RealPairsTest.image(root.resolve("a"), "t2.png", 120, 90, 67), "train",
        "a:t-scene"));
    Files.copy(t1, pairs.resolve("apple.png"));
    lines.add(line(root, "opencv-doc:graf1.png", RealPairsTest.image(root.resolve("opencv-doc"), "graf1.png", 40, 30,
        64), "train"));
    lines.add(line(root, "s:d1.png", RealPairsTest.image(root.resolve("s"), "d1.png", 70, 70, 65), "distractor"));
    lines.add(line(root, "s:d2.png", RealPairsTest.image(root.resolve("s"), "d2.png", 100, 40, 66), "distractor"));
    Path m = root.resolve("manifest.tsv");
    Files.writeString(m, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
    photos = Photos.read(m);
  }

  private static String line(Path root, String id, Path file, String role) throws IOException {
    return line(root, id, file, role, id);
  }

  private static String line(Path root, String id, Path file, String role, String group) throws IOException {
    BufferedImage img = Photos.load(file, Integer.MAX_VALUE);
    String sha;
    try {
      sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
    return String.join("\t", id, root.relativize(file).toString(), id.substring(0, id.indexOf(':')),
        String.valueOf(img.getWidth()), String.valueOf(img.getHeight()), sha, role, group);
  }

  @Test
  void theHardBenchmarkHoldsWhatItsDocumentationSays() throws IOException {
    BenchmarkSet b = BenchmarkSet.hard(photos, pairs, SIDE, 2, Integer.MAX_VALUE, 1, SEED, Progress.none());
    int np = RealPairs.PAIRS.size();
    // database: h1 h2 h3 (aero-copy enters as the aero pair's image), the pairs' first images, d1 d2, starry_night, then one
    // hard view of each of those three distractors
    List<String> want = new ArrayList<>(List.of("a:h1.png", "a:h2.png", "a:h3.jpg"));
    for (String[] p : RealPairs.PAIRS) {
      want.add("pair:" + p[2]);
    }
    want.addAll(List.of("s:d1.png", "s:d2.png", "opencv-doc:starry_night.jpg", "hard view 0 of s:d1.png",
        "hard view 0 of s:d2.png", "hard view 0 of opencv-doc:starry_night.jpg"));
    assertEquals(want, b.databaseIds());
    assertEquals(want.size(), b.database().size());
    assertEquals(3 + np + 3 + 3, b.database().size());
    // queries: two hard views of each held-out photo, then the pairs' second images
    assertEquals(3 * 2 + np, b.queries().size());
    assertEquals(b.queries().size(), b.queryIds().size());
    assertEquals(b.queries().size(), b.relevant().length);
    for (int q = 0; q < 6; q++) {
      assertEquals(q / 2, b.relevant()[q]);
      assertEquals("hard view " + q % 2 + " of " + want.get(q / 2), b.queryIds().get(q));
    }
    for (int i = 0; i < np; i++) {
      String[] p = RealPairs.PAIRS.get(i);
      assertEquals("pair:" + p[3], b.queryIds().get(6 + i));
      assertEquals("pair:" + p[2], b.databaseIds().get(b.relevant()[6 + i]), "the relevant image is the first one");
    }
    // every relevant image is in the database once, and no query is a database image
    assertEquals(new HashSet<>(b.databaseIds()).size(), b.databaseIds().size());
    assertArrayEquals(IntStream.range(0, 6).toArray(), b.subsets().get(BenchmarkSet.HARD_VIEWS));
    assertArrayEquals(IntStream.range(6, 6 + np).toArray(), b.subsets().get(BenchmarkSet.REAL_PAIRS));
    // graf1 is a training photo (by id): its pair is not unseen; aero1 is a held-out photo (by bytes), so aero is
    assertArrayEquals(IntStream.range(7, 6 + np).toArray(), b.subsets().get(BenchmarkSet.REAL_PAIRS_UNSEEN));
    for (BufferedImage img : b.database()) {
      assertTrue(Math.max(img.getWidth(), img.getHeight()) <= SIDE);
    }
    for (BufferedImage img : b.queries()) {
      assertTrue(Math.max(img.getWidth(), img.getHeight()) <= SIDE);
    }
    assertTrue(b.summary().contains(b.database().size() + " database images (3 held-out photos + " + np
        + " real pairs' first images + 2 distractors + 1 other opencv-doc images + 3 hard views"), b.summary());
  }

  @Test
  void theHardBenchmarkIsTheSameEveryTimeAndFollowsItsOptions() throws IOException {
    BenchmarkSet a = BenchmarkSet.hard(photos, pairs, SIDE, 2, Integer.MAX_VALUE, 1, SEED, Progress.none());
    BenchmarkSet b = BenchmarkSet.hard(photos, pairs, SIDE, 2, Integer.MAX_VALUE, 1, SEED, Progress.none());
    for (int q = 0; q < a.queries().size(); q++) {
      assertArrayEquals(Images.pixels(a.queries().get(q)), Images.pixels(b.queries().get(q)), "query " + q);
    }
    // the first query is the hard view of h1 cut at 4x the side, brought to the side, its occluder
    // cut at twice the side from a photo of the first training group (t1 and t2, the queries'
    // pool); the distractor views' occluders come from the other group (graf1), so a scene never
    // gives occluders to both
    int hiSide = BenchmarkSet.HARD_SOURCE_FACTOR * SIDE;
    BufferedImage hi = photos.load(photos.get("a:h1.png"), hiSide);
    int[] q0 = Images.pixels(a.queries().get(0));
    boolean fromScene = false;
    for (String t : List.of("a:t1.png", "a:t2.png")) {
      BufferedImage occ = photos.load(photos.get(t), hiSide / 2);
      fromScene |= java.util.Arrays.equals(q0, Images.pixels(Images.fitWithin(
          Views.hard(hi, BenchmarkSet.querySeed(SEED, 0, 0), occ).image(), SIDE)));
    }
    assertTrue(fromScene, "the first query's occluder is cut from t1 or t2");
    assertFalse(java.util.Arrays.equals(Images.pixels(Images.fitWithin(
        Views.hard(hi, BenchmarkSet.querySeed(SEED, 0, 0)).image(), SIDE)), Images.pixels(a.queries().get(0))));
    int d1 = a.databaseIds().indexOf("s:d1.png");
    BufferedImage d1Hi = photos.load(photos.get("s:d1.png"), hiSide);
    BufferedImage graf1 = photos.load(photos.get("opencv-doc:graf1.png"), hiSide / 2);
    assertArrayEquals(Images.pixels(Images.fitWithin(
            Views.hard(d1Hi, BenchmarkSet.distractorViewSeed(SEED, d1, 0), graf1).image(), SIDE)),
        Images.pixels(a.database().get(a.databaseIds().indexOf("hard view 0 of s:d1.png"))));
    assertTrue(a.summary().endsWith("occluders cut from 3 training photos"), a.summary());
    BenchmarkSet other = BenchmarkSet.hard(photos, pairs, SIDE, 2, Integer.MAX_VALUE, 1, SEED + 1, Progress.none());
    assertFalse(java.util.Arrays.equals(Images.pixels(a.queries().get(0)), Images.pixels(other.queries().get(0))));
    // one distractor, no views, one view per photo
    BenchmarkSet small = BenchmarkSet.hard(photos, pairs, SIDE, 1, 1, 0, SEED, Progress.none());
    int np = RealPairs.PAIRS.size();
    assertEquals(3 + np + 1 + 1, small.database().size());
    assertEquals("s:d1.png", small.databaseIds().get(3 + np));
    assertEquals(3 + np, small.queries().size());
  }

  @Test
  void theStandardBenchmarkIsTodays() throws IOException {
    BenchmarkSet b = BenchmarkSet.standard(photos, SIDE, 3, Integer.MAX_VALUE, 2, SEED, Progress.none());
    List<String> held = List.of("a:h1.png", "a:h2.png", "a:h3.jpg", "x:aero-copy.jpg");
    assertEquals(held, b.databaseIds().subList(0, 4));
    assertEquals(List.of("s:d1.png", "s:d2.png", "view 0 of s:d1.png", "view 1 of s:d1.png", "view 0 of s:d2.png",
        "view 1 of s:d2.png"), b.databaseIds().subList(4, 10));
    assertEquals(10, b.database().size());
    assertEquals(12, b.queries().size());
    assertTrue(b.subsets().isEmpty());
    // the seeds and sources of the code this replaced: views of the photo loaded at the side
    for (int h = 0; h < 4; h++) {
      BufferedImage src = photos.load(photos.get(held.get(h)), SIDE);
      for (int v = 0; v < 3; v++) {
        int q = h * 3 + v;
        assertEquals(h, b.relevant()[q]);
        assertArrayEquals(Images.pixels(Views.query(src, SEED * 1_000_003L + h * 31L + v).image()),
            Images.pixels(b.queries().get(q)), "query " + q);
      }
    }
    BufferedImage d2 = photos.load(photos.get("s:d2.png"), SIDE);
    assertArrayEquals(Images.pixels(Views.query(d2, (SEED + 1) * 7_000_003L + 5 * 131L + 1).image()),
        Images.pixels(b.database().get(9)));
    assertEquals(6, BenchmarkSet.standard(photos, SIDE, 3, 1, 1, SEED, Progress.none()).database().size());
  }

  @Test
  void withoutThePairsFolderTheHardBenchmarkSaysWhatToInstall() {
    IOException e = assertThrows(IOException.class, () -> BenchmarkSet.hard(photos, dir.resolve("none"), SIDE, 1,
        Integer.MAX_VALUE, 0, SEED, Progress.none()));
    assertTrue(e.getMessage().contains("apt-get install opencv-doc"), e.getMessage());
  }
}
