package org.deephash.delf.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

class PhotosTest {

  @TempDir Path dir;

  private static final String HEADER = "id\tpath\tpackage\twidth\theight\tsha256\trole\tgroup";
  private static final String SHA = "a".repeat(64);

  private Path image(String rel, int w, int h) throws IOException {
    Path p = dir.resolve(rel);
    Files.createDirectories(p.getParent());
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        img.setRGB(x, y, (x * 255 / w) << 16 | (y * 255 / h) << 8 | 77);
      }
    }
    ImageIO.write(img, rel.endsWith(".png") ? "png" : "jpg", p.toFile());
    return p;
  }

  private Path manifest(String... lines) throws IOException {
    Path m = dir.resolve("manifest.tsv");
    Files.writeString(m, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
    return m;
  }

  private Photos.ManifestException bad(int line, String expect, String... lines) throws IOException {
    Path m = manifest(lines);
    Photos.ManifestException e = assertThrows(Photos.ManifestException.class, () -> Photos.read(m));
    assertEquals(line, e.line(), e.getMessage());
    assertTrue(e.getMessage().contains("manifest.tsv:" + line + ": "), e.getMessage());
    assertTrue(e.getMessage().contains(expect), e.getMessage());
    return e;
  }

  @Test
  void readsAValidManifest() throws IOException {
    image("photos/a/one.png", 40, 30);
    image("photos/a/two.jpg", 30, 40);
    image("distractors/s/three.png", 20, 20);
    Photos photos = Photos.read(manifest(
        HEADER,
        "a:one.png\tphotos/a/one.png\ta\t40\t30\t" + SHA + "\ttrain\ta:scene",
        "a:two.jpg\tphotos/a/two.jpg\ta\t30\t40\t" + SHA + "\theldout\ta:scene",
        "s:three.png\tdistractors/s/three.png\ts\t20\t20\t" + SHA + "\tdistractor\ts:three.png"));
    assertEquals(3, photos.size());
    assertEquals(dir.resolve("photos/a/two.jpg").toAbsolutePath().normalize(), photos.get("a:two.jpg").path());
    assertEquals(List.of("a:one.png"), photos.withRole(Photos.Role.TRAIN).stream().map(Photos.Photo::id).toList());
    assertEquals(Photos.Role.DISTRACTOR, photos.get("s:three.png").role());
    assertEquals(2, photos.groups().get("a:scene").size());
    // the directory works as well as the file
    assertEquals(3, Photos.read(dir).size());
    assertThrows(IllegalArgumentException.class, () -> photos.get("nope"));
  }

  @Test
  void sevenColumnManifestsMakeEachPhotoItsOwnGroup() throws IOException {
    image("p/x.png", 10, 10);
    Photos photos = Photos.read(manifest(
        "id\tpath\tpackage\twidth\theight\tsha256\trole",
        "x\tp/x.png\tpkg\t10\t10\t" + SHA + "\ttrain"));
    assertEquals("x", photos.get("x").group());
  }

  @Test
  void errorsNameTheLine() throws IOException {
    image("p/x.png", 10, 10);
    String ok = "x\tp/x.png\tpkg\t10\t10\t" + SHA + "\ttrain\tg";
    bad(1, "bad header", "id\tpath", ok);
    bad(3, "expected 8 tab-separated columns, found 7", HEADER, ok, "y\tp/x.png\tpkg\t10\t10\t" + SHA + "\ttrain");
    bad(3, "duplicate id 'x'", HEADER, ok, ok);
    bad(2, "width 'ten' is not a positive integer", HEADER, "x\tp/x.png\tpkg\tten\t10\t" + SHA + "\ttrain\tg");
    bad(2, "height '0' is not a positive integer", HEADER, "x\tp/x.png\tpkg\t10\t0\t" + SHA + "\ttrain\tg");
    bad(2, "sha256 'ABC' is not 64", HEADER, "x\tp/x.png\tpkg\t10\t10\tABC\ttrain\tg");
    bad(2, "role 'test' is not train, heldout or distractor", HEADER, "x\tp/x.png\tpkg\t10\t10\t" + SHA + "\ttest\tg");
    bad(2, "leaves the manifest's directory", HEADER, "x\t../x.png\tpkg\t10\t10\t" + SHA + "\ttrain\tg");
    bad(2, "must be relative", HEADER, "x\t" + dir.resolve("p/x.png") + "\tpkg\t10\t10\t" + SHA + "\ttrain\tg");
    bad(2, "does not exist", HEADER, "x\tp/missing.png\tpkg\t10\t10\t" + SHA + "\ttrain\tg");
    bad(2, "empty id", HEADER, "\tp/x.png\tpkg\t10\t10\t" + SHA + "\ttrain\tg");
    bad(3, "expected 8", HEADER, ok, "", "z\tp/x.png\tpkg\t10\t10\t" + SHA + "\ttrain\tg");
  }

  @Test
  void aMissingManifestSaysHowToMakeOne() {
    IOException e = assertThrows(IOException.class, () -> Photos.read(dir.resolve("nothing")));
    assertTrue(e.getMessage().contains("setup-photos.sh"), e.getMessage());
  }

  @Test
  void loadingScalesTheLongerSideDownAndNeverUp() throws IOException {
    Path p = image("p/wide.png", 300, 120);
    BufferedImage small = Photos.load(p, 100);
    assertEquals(100, small.getWidth());
    assertEquals(40, small.getHeight());
    assertEquals(BufferedImage.TYPE_INT_RGB, small.getType());
    BufferedImage same = Photos.load(p, 1000);
    assertEquals(300, same.getWidth());
    assertEquals(120, same.getHeight());
    assertThrows(IllegalArgumentException.class, () -> Photos.load(p, 0));
  }

  @Test
  void loadChecksTheSizeAgainstTheManifest() throws IOException {
    image("p/x.png", 12, 10);
    Photos photos = Photos.read(manifest(HEADER, "x\tp/x.png\tpkg\t10\t10\t" + SHA + "\ttrain\tg"));
    IOException e = assertThrows(IOException.class, () -> photos.load(photos.get("x"), 64));
    assertTrue(e.getMessage().contains("12x10") && e.getMessage().contains("10x10"), e.getMessage());
  }

  @Test
  void unreadableFilesGiveAClearError() throws IOException {
    Path p = dir.resolve("junk.png");
    Files.writeString(p, "not an image");
    IOException e = assertThrows(IOException.class, () -> Photos.load(p, 64));
    assertTrue(e.getMessage().contains("junk.png"), e.getMessage());
  }

  @Test
  void greyImagesKeepTheirValues() throws IOException {
    // getRGB on a TYPE_BYTE_GRAY image would lighten 100 to about 168 (linear-grey colour space)
    BufferedImage g = new BufferedImage(8, 8, BufferedImage.TYPE_BYTE_GRAY);
    g.getRaster().setSample(3, 4, 0, 100);
    Path p = dir.resolve("grey.png");
    ImageIO.write(g, "png", p.toFile());
    BufferedImage rgb = Photos.load(p, 64);
    assertEquals(100 << 16 | 100 << 8 | 100, rgb.getRGB(3, 4) & 0xFFFFFF);
    assertEquals(0, rgb.getRGB(0, 0) & 0xFFFFFF);
  }

  @Test
  void transparentPixelsBecomeWhite() throws IOException {
    BufferedImage a = new BufferedImage(4, 4, BufferedImage.TYPE_INT_ARGB);
    a.setRGB(1, 1, 0xFF102030);
    a.setRGB(2, 2, 0x80000000); // half-transparent black over white
    Path p = dir.resolve("alpha.png");
    ImageIO.write(a, "png", p.toFile());
    BufferedImage rgb = Photos.load(p, 64);
    assertEquals(0x102030, rgb.getRGB(1, 1) & 0xFFFFFF);
    assertEquals(0xFFFFFF, rgb.getRGB(0, 0) & 0xFFFFFF);
    int half = rgb.getRGB(2, 2) & 255;
    assertTrue(Math.abs(half - 127) <= 1, "got " + half);
  }

  @Test
  void areaResizeAveragesExactly() {
    BufferedImage img = Images.newRgb(6, 4);
    int[] px = Images.pixels(img);
    for (int i = 0; i < px.length; i++) {
      px[i] = (i % 6 < 3 ? 30 : 90) << 16 | 200 << 8 | (i / 6) * 10; // left/right halves
    }
    BufferedImage half = Images.resizeArea(img, 0, 0, 6, 4, 2, 2);
    // each output pixel averages a 3x2 block
    assertArrayEquals(new int[] {30 << 16 | 200 << 8 | 5, 90 << 16 | 200 << 8 | 5,
        30 << 16 | 200 << 8 | 25, 90 << 16 | 200 << 8 | 25}, Images.pixels(half));
    // a non-integer factor keeps the mean of a linear ramp
    BufferedImage ramp = Images.newRgb(10, 1);
    for (int x = 0; x < 10; x++) {
      Images.pixels(ramp)[x] = (x * 20) << 16;
    }
    BufferedImage r = Images.resizeArea(ramp, 0, 0, 10, 1, 4, 1);
    double mean = 0;
    for (int v : Images.pixels(r)) {
      mean += (v >> 16 & 255) / 4.0;
    }
    assertEquals(90, mean, 0.5);
  }

  /**
   * A check of the benchmark's photo folder, run when asked for with {@code -Ddelf.photos=DIR}
   * (for example {@code ../../data/photos}): the photos that setup-photos.sh collected match the
   * manifest's checksums, and decode at the manifest's size. It is not part of the default run
   * (nor of CI): collecting the photos downloads about 300 MB of Debian packages. Asked for and
   * missing, it fails. Decoding all of them takes ~20 s on two cores (some are 20-megapixel
   * wallpapers), so by default every 10th is decoded; {@code -Ddelf.photos.all=true} decodes all.
   */
  @Test
  @EnabledIfSystemProperty(named = "delf.photos", matches = ".+")
  void theCollectedPhotosLoad() throws Exception {
    Path m = Path.of(System.getProperty("delf.photos")).resolve("manifest.tsv");
    assertTrue(Files.isRegularFile(m), "no " + m.toAbsolutePath() + ": run bench/delf/setup-photos.sh");
    boolean all = Boolean.getBoolean("delf.photos.all");
    Photos photos = Photos.read(m);
    assertTrue(photos.size() > 200, "only " + photos.size() + " photos");
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    for (Photos.Photo p : photos.all()) {
      String digest = HexFormat.of().formatHex(sha.digest(Files.readAllBytes(p.path())));
      assertEquals(p.sha256(), digest, p.id());
    }
    for (int i = 0; i < photos.size(); i += all ? 1 : 10) {
      Photos.Photo p = photos.all().get(i);
      BufferedImage img = photos.load(p, 256);
      assertEquals(Math.min(256, Math.max(p.width(), p.height())),
          Math.max(img.getWidth(), img.getHeight()), p.id());
    }
  }
}
