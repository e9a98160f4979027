package org.deephash.model.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Scanning a photo folder (recursion, order, what is skipped and why), reading photos, the report beside an index. */
class PhotoFilesTest {
  @TempDir
  Path dir;

  private void png(Path p, int w, int h) throws IOException {
    Files.createDirectories(p.getParent());
    ImageIO.write(new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB), "png", p.toFile());
  }

  private void jpeg(Path p, int w, int h) throws IOException {
    Files.createDirectories(p.getParent());
    ImageIO.write(new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB), "jpeg", p.toFile());
  }

  @Test
  void scanIsRecursiveSortedAndListsWhatItSkips() throws IOException {
    jpeg(dir.resolve("b/c/deep.jpg"), 20, 10);
    png(dir.resolve("a.png"), 10, 10);
    jpeg(dir.resolve("b/UPPER.JPEG"), 10, 10);
    Files.write(dir.resolve("b/x.webp"), new byte[] {'R', 'I', 'F', 'F'});
    Files.write(dir.resolve("b/phone.heic"), new byte[] {0, 0, 0, 24});
    Files.write(dir.resolve("scan.tiff"), new byte[] {'I', 'I', 42, 0});
    Files.writeString(dir.resolve("notes.txt"), "not a photo");
    png(dir.resolve(".thumbs/hidden.png"), 10, 10);
    Files.write(dir.resolve("corrupt.jpg"), "this is text, not a JPEG".getBytes());
    Files.createSymbolicLink(dir.resolve("link.png"), dir.resolve("a.png"));

    PhotoFiles.Listing l = PhotoFiles.scan(dir);
    assertEquals(dir.toAbsolutePath().normalize(), l.root());
    // found at every depth, hidden folders left out, sorted by path; a corrupt file is found (it fails when read)
    assertEquals(List.of("a.png", "b/UPPER.JPEG", "b/c/deep.jpg", "b/x.webp", "corrupt.jpg"), l.photos());
    assertEquals(1, l.ignored(), "notes.txt");
    assertEquals(3, l.skipped().size(), l.skipped().toString());
    assertEquals("b/phone.heic", l.skipped().get(0).path());
    assertEquals("no decoder: .heic files cannot be decoded (convert them to JPEG, PNG or WebP)",
        l.skipped().get(0).reason());
    assertEquals("link.png", l.skipped().get(1).path());
    assertTrue(l.skipped().get(1).reason().contains("symbolic link"));
    assertEquals("scan.tiff", l.skipped().get(2).path());
    assertTrue(l.skipped().get(2).reason().startsWith("TIFF is not read"), l.skipped().get(2).reason());
  }

  /** Made with cwebp from a 64x48 picture of pixel (x, y) = (4x, 5y, 2(x + y)), losslessly. */
  private static final String GRADIENT = "gradient-lossless.webp";
  /** Made with cwebp -q 90 from a 64x48 picture in four colour quadrants (below). */
  private static final String QUADRANTS = "quadrants-lossy.webp";

  private Path resource(String name) throws IOException {
    Path p = dir.resolve(name);
    try (var in = PhotoFilesTest.class.getResourceAsStream(name)) {
      Files.write(p, in.readAllBytes());
    }
    return p;
  }

  @Test
  void webpPhotosAreDecodedLosslessExactlyAndLossyClosely() throws IOException {
    BufferedImage g = PhotoFiles.read(resource(GRADIENT), 64, 48);
    assertEquals(64, g.getWidth());
    assertEquals(48, g.getHeight());
    for (int y = 0; y < 48; y++) {
      for (int x = 0; x < 64; x++) {
        assertEquals((4 * x) << 16 | (5 * y) << 8 | 2 * (x + y), g.getRGB(x, y) & 0xffffff, "pixel " + x + "," + y);
      }
    }
    // decoded with subsampling when less is asked: every 4th pixel of every 4th row
    BufferedImage small = PhotoFiles.read(resource(GRADIENT), 16, 12);
    assertEquals(16, small.getWidth());
    assertEquals(12, small.getHeight());
    assertEquals(g.getRGB(40, 28), small.getRGB(10, 7));
    BufferedImage q = PhotoFiles.read(resource(QUADRANTS), 64, 48);
    int[][] colours = {{0xff0000, 0x00ff00}, {0x0000ff, 0xc8c832}};
    for (int y = 0; y < 48; y++) {
      for (int x = 0; x < 64; x++) {
        if (x % 32 < 4 || x % 32 > 27 || y % 24 < 4 || y % 24 > 19) {
          continue; // lossy coding blurs the borders between quadrants
        }
        int want = colours[y / 24][x / 32];
        int got = q.getRGB(x, y);
        for (int s = 0; s < 24; s += 8) {
          assertTrue(Math.abs((want >> s & 0xff) - (got >> s & 0xff)) <= 24,
              "pixel " + x + "," + y + ": " + Integer.toHexString(got) + " for " + Integer.toHexString(want));
        }
      }
    }
    // a scan lists WebP files as photos; a file that only claims to be one is refused when read, in one line
    Files.write(dir.resolve("fake.webp"), "RIFF....WEBPVP8 ".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    assertEquals(List.of("fake.webp", GRADIENT, QUADRANTS), PhotoFiles.scan(dir).photos());
    DatasetException e = assertThrows(DatasetException.class, () -> PhotoFiles.read(dir.resolve("fake.webp"), 8, 8));
    assertTrue(e.getMessage().startsWith(dir.resolve("fake.webp") + ": "), e.getMessage());
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
  }

  @Test
  void unreadableFilesGiveOneLineReasons() throws IOException {
    Files.write(dir.resolve("text.jpg"), "not an image at all".getBytes());
    Files.write(dir.resolve("empty.png"), new byte[0]);
    jpeg(dir.resolve("whole.jpg"), 64, 64);
    byte[] whole = Files.readAllBytes(dir.resolve("whole.jpg"));
    Files.write(dir.resolve("header-only.jpg"), Arrays.copyOf(whole, 40));
    png(dir.resolve("whole.png"), 64, 64);
    Files.write(dir.resolve("cut.png"), Arrays.copyOf(Files.readAllBytes(dir.resolve("whole.png")), 30));
    for (String name : List.of("text.jpg", "empty.png", "header-only.jpg", "cut.png", "missing.jpg")) {
      DatasetException e = assertThrows(DatasetException.class, () -> PhotoFiles.read(dir.resolve(name), 8, 8), name);
      assertTrue(e.getMessage().startsWith(dir.resolve(name).toString() + ": "), e.getMessage());
      assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }
  }

  @Test
  void largePhotosAreSubsampledWhileDecoding() throws IOException {
    jpeg(dir.resolve("big.jpg"), 1200, 800);
    BufferedImage img = PhotoFiles.read(dir.resolve("big.jpg"), 100, 100);
    // at least the size asked in each direction, the shape kept: one step for both axes, the
    // smaller of 1200/100 and 800/100, so 1200/8 x 800/8 (a step per axis would give a squashed 100 x 100)
    assertEquals(150, img.getWidth());
    assertEquals(100, img.getHeight());
    BufferedImage tall = PhotoFiles.read(dir.resolve("big.jpg"), 100, 300);
    assertEquals(1200 / 2, tall.getWidth());
    assertEquals(800 / 2, tall.getHeight());
    BufferedImage small = PhotoFiles.read(dir.resolve("big.jpg"), 5000, 5000);
    assertEquals(1200, small.getWidth(), "never larger than the photo");
  }

  /** A PNG whose header announces 30,000 x 30,000 pixels is refused from the header, before any pixel. */
  @Test
  void aDecompressionBombIsRefusedFromItsHeader() throws IOException {
    png(dir.resolve("small.png"), 8, 8);
    byte[] b = Files.readAllBytes(dir.resolve("small.png"));
    // IHDR: length (4) "IHDR" (4) width (4) height (4) ... CRC over type and data (17 bytes)
    int ihdr = 8;
    for (int k = 0; k < 2; k++) {
      int at = ihdr + 8 + 4 * k;
      b[at] = 0;
      b[at + 1] = 0;
      b[at + 2] = (byte) (30_000 >> 8);
      b[at + 3] = (byte) 30_000;
    }
    java.util.zip.CRC32 crc = new java.util.zip.CRC32();
    crc.update(b, ihdr + 4, 17);
    long v = crc.getValue();
    for (int k = 0; k < 4; k++) {
      b[ihdr + 21 + k] = (byte) (v >> (24 - 8 * k));
    }
    Files.write(dir.resolve("bomb.png"), b);
    DatasetException e = assertThrows(DatasetException.class, () -> PhotoFiles.read(dir.resolve("bomb.png"), 64, 64));
    assertTrue(e.getMessage().contains("30000x30000 pixels, more than"), e.getMessage());
  }

  @Test
  void reportRoundTripsAndResolvesOnlyInsideTheFolder() throws IOException {
    Path index = dir.resolve("photos.dhx");
    PhotoIndex p = new PhotoIndex(dir.toAbsolutePath(), 3, List.of(new PhotoFiles.Skipped("x.webp", "no decoder")));
    p.write(index);
    assertTrue(Files.isRegularFile(dir.resolve("photos.dhx.photos.json")));
    assertEquals(p, PhotoIndex.read(index).orElseThrow());
    assertTrue(PhotoIndex.read(dir.resolve("other.dhx")).isEmpty());
    assertEquals(dir.toAbsolutePath().resolve("a/b.jpg"), p.resolve("a/b.jpg"));
    assertNull(p.resolve("../outside.jpg"));
    assertNull(p.resolve("a/../../outside.jpg"));
    assertNull(p.resolve("/etc/passwd"));
    assertNull(p.resolve(""));
    Files.writeString(PhotoIndex.reportFile(index), "{not json");
    IOException e = assertThrows(IOException.class, () -> PhotoIndex.read(index));
    assertTrue(e.getMessage().contains("rebuild it"), e.getMessage());
  }
}
