package org.deephash.delf.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

class RealPairsTest {

  @TempDir Path dir;

  /** Writes a w x h image (PNG or JPEG by the name's extension) whose pixels depend on {@code seed}. */
  static Path image(Path folder, String name, int w, int h, int seed) throws IOException {
    Files.createDirectories(folder);
    BufferedImage img = Images.newRgb(w, h);
    int[] px = Images.pixels(img);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        px[y * w + x] = ((x * 7 + seed * 31) & 255) << 16 | ((y * 5 + seed * 17) & 255) << 8 | ((x ^ y) + seed) & 255;
      }
    }
    Path p = folder.resolve(name);
    ImageIO.write(img, name.endsWith(".png") ? "png" : "jpg", p.toFile());
    return p;
  }

  /** A folder laid out like opencv-doc's examples/data: every pair's two files, 40 x 30 each. */
  static void fakeOpencvDoc(Path folder) throws IOException {
    int seed = 0;
    for (String[] p : RealPairs.PAIRS) {
      image(folder, p[2], 40, 30, seed++);
      image(folder, p[3], 40, 30, seed++);
    }
  }

  @Test
  void findsEveryPairInItsOrder() throws IOException {
    fakeOpencvDoc(dir);
    List<RealPairs.Pair> pairs = RealPairs.find(dir);
    assertEquals(RealPairs.PAIRS.size(), pairs.size());
    RealPairs.Pair graf = pairs.get(0);
    assertEquals("graf", graf.name());
    assertEquals(dir.toAbsolutePath().resolve("graf1.png"), graf.database());
    assertEquals(dir.toAbsolutePath().resolve("graf3.png"), graf.query());
    RealPairs.Pair box = pairs.get(1);
    assertEquals("box", box.name());
    assertEquals("box_in_scene.png", box.database().getFileName().toString(), "the scene is in the database");
    assertEquals("box.png", box.query().getFileName().toString(), "the object asks");
    for (RealPairs.Pair p : pairs) {
      assertTrue(Files.isRegularFile(p.database()) && Files.isRegularFile(p.query()), p.toString());
      assertFalse(p.database().equals(p.query()), p.toString());
    }
  }

  @Test
  void theOtherImagesLeaveOutPairsSmallImagesAndOtherFiles() throws IOException {
    fakeOpencvDoc(dir);
    image(dir, "starry_night.jpg", 200, 150, 90);
    image(dir, "blox.png", 128, 128, 91); // exactly the minimum
    image(dir, "templ.png", 100, 130, 92); // one side too short
    Files.writeString(dir.resolve("H1to3p.xml"), "<homography/>");
    Files.writeString(dir.resolve("broken.jpg"), "not a JPEG");
    Files.createDirectories(dir.resolve("dnn.png")); // a folder, whatever its name
    assertEquals(List.of(dir.toAbsolutePath().resolve("blox.png"), dir.toAbsolutePath().resolve("starry_night.jpg")),
        RealPairs.others(dir, 128));
    assertEquals(List.of(dir.toAbsolutePath().resolve("starry_night.jpg")), RealPairs.others(dir, 129));
  }

  @Test
  void aMissingFolderSaysWhatToInstallInOneLine() {
    Path none = dir.resolve("opencv-doc");
    IOException e = assertThrows(IOException.class, () -> RealPairs.find(none));
    assertEquals("no opencv-doc example images at " + none + ": apt-get install opencv-doc (or pass the folder that"
        + " holds graf1.png)", e.getMessage());
    assertThrows(IOException.class, () -> RealPairs.others(none, 1));
  }

  @Test
  void aMissingPairFileIsNamed() throws IOException {
    fakeOpencvDoc(dir);
    Files.delete(dir.resolve("aero3.jpg"));
    IOException e = assertThrows(IOException.class, () -> RealPairs.find(dir));
    assertTrue(e.getMessage().contains("has no aero3.jpg") && e.getMessage().contains("apt-get install opencv-doc"),
        e.getMessage());
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
  }

  /**
   * The installed opencv-doc (asked for with {@code -Ddelf.pairs=/usr/share/doc/opencv-doc/examples/data};
   * not part of the default run nor of CI, the package is 96 MB): every pair is there and decodes, and
   * graf1/graf3 are the 800 x 640 graffiti images. Asked for and missing, it fails.
   */
  @Test
  @EnabledIfSystemProperty(named = "delf.pairs", matches = ".+")
  void theInstalledPairsLoad() throws IOException {
    Path folder = Path.of(System.getProperty("delf.pairs"));
    assertTrue(Files.isDirectory(folder), "no " + folder + ": " + RealPairs.INSTALL);
    List<RealPairs.Pair> pairs = RealPairs.find(folder);
    for (RealPairs.Pair p : pairs) {
      for (Path f : List.of(p.database(), p.query())) {
        BufferedImage img = Photos.load(f, 4096);
        assertTrue(img.getWidth() >= 200 && img.getHeight() >= 200, f + " is " + img.getWidth() + "x" + img.getHeight());
      }
    }
    BufferedImage graf3 = Photos.load(pairs.get(0).query(), 4096);
    assertEquals(800, graf3.getWidth());
    assertEquals(640, graf3.getHeight());
    assertTrue(RealPairs.others(folder, BenchmarkSet.MIN_OTHER_SIDE).size() > 20);
  }
}
