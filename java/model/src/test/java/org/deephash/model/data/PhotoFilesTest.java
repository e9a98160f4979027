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
    Files.write(dir.resolve("scan.tiff"), new byte[] {'I', 'I', 42, 0});
    Files.writeString(dir.resolve("notes.txt"), "not a photo");
    png(dir.resolve(".thumbs/hidden.png"), 10, 10);
    Files.write(dir.resolve("corrupt.jpg"), "this is text, not a JPEG".getBytes());
    Files.createSymbolicLink(dir.resolve("link.png"), dir.resolve("a.png"));

    PhotoFiles.Listing l = PhotoFiles.scan(dir);
    assertEquals(dir.toAbsolutePath().normalize(), l.root());
    // found at every depth, hidden folders left out, sorted by path; a corrupt file is found (it fails when read)
    assertEquals(List.of("a.png", "b/UPPER.JPEG", "b/c/deep.jpg", "corrupt.jpg"), l.photos());
    assertEquals(1, l.ignored(), "notes.txt");
    assertEquals(3, l.skipped().size(), l.skipped().toString());
    assertEquals("b/x.webp", l.skipped().get(0).path());
    assertTrue(l.skipped().get(0).reason().startsWith("no decoder: the JDK cannot decode .webp"), l.skipped().get(0).reason());
    assertEquals("link.png", l.skipped().get(1).path());
    assertTrue(l.skipped().get(1).reason().contains("symbolic link"));
    assertEquals("scan.tiff", l.skipped().get(2).path());
    assertTrue(l.skipped().get(2).reason().startsWith("TIFF is not read"), l.skipped().get(2).reason());
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
