package org.deephash.model.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * EXIF orientation: JPEGs made here with an APP1 segment holding the Orientation tag (both byte
 * orders), decoded through {@link PhotoFiles#decode}, must come out upright. The picture is 32 x
 * 16 with four solid quadrants (red, green / blue, white); where each quadrant lands for each of
 * the eight orientations is written out by hand from the EXIF definition (6 = turn 90 degrees
 * clockwise to view, 8 = anticlockwise), not computed by the code under test.
 */
class ExifTest {
  static final int RED = 0xff0000;
  static final int GREEN = 0x00ff00;
  static final int BLUE = 0x0000ff;
  static final int WHITE = 0xffffff;

  /** Upright quadrants per orientation: top-left, top-right, bottom-left, bottom-right. */
  static final int[][] EXPECTED = {
      null,
      {RED, GREEN, BLUE, WHITE},   // 1 as stored
      {GREEN, RED, WHITE, BLUE},   // 2 mirrored left-right
      {WHITE, BLUE, GREEN, RED},   // 3 turned 180
      {BLUE, WHITE, RED, GREEN},   // 4 mirrored top-bottom
      {RED, BLUE, GREEN, WHITE},   // 5 transposed
      {BLUE, RED, WHITE, GREEN},   // 6 turned 90 clockwise
      {WHITE, GREEN, BLUE, RED},   // 7 transversed
      {GREEN, WHITE, RED, BLUE},   // 8 turned 90 anticlockwise
  };

  static BufferedImage quadrants() {
    BufferedImage img = new BufferedImage(32, 16, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 16; y++) {
      for (int x = 0; x < 32; x++) {
        img.setRGB(x, y, y < 8 ? (x < 16 ? RED : GREEN) : (x < 16 ? BLUE : WHITE));
      }
    }
    return img;
  }

  static byte[] jpeg(BufferedImage img) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(img, "jpeg", out);
    return out.toByteArray();
  }

  /** An APP1 "Exif" segment with IFD0 holding a few tags, Orientation among them. */
  static byte[] app1(int orientation, boolean little) {
    // TIFF header (8) + IFD0: count (2) + 3 entries (36) + next IFD offset (4)
    byte[] tiff = new byte[8 + 2 + 36 + 4];
    put16(tiff, 0, little ? 0x4949 : 0x4d4d, false);
    put16(tiff, 2, 42, little);
    put32(tiff, 4, 8, little);
    put16(tiff, 8, 3, little);
    int e = 10;
    // ImageWidth (LONG), Orientation (SHORT), XResolution offset (RATIONAL; the value is not read)
    entry(tiff, e, 0x0100, 4, 1, 32, little);
    entry(tiff, e + 12, 0x0112, 3, 1, orientation, little);
    entry(tiff, e + 24, 0x011a, 5, 1, 9999, little);
    byte[] seg = new byte[4 + 6 + tiff.length];
    seg[0] = (byte) 0xff;
    seg[1] = (byte) 0xe1;
    put16(seg, 2, seg.length - 2, false);
    System.arraycopy("Exif\0\0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), 0, seg, 4, 6);
    System.arraycopy(tiff, 0, seg, 10, tiff.length);
    return seg;
  }

  private static void entry(byte[] b, int at, int tag, int type, int count, int value, boolean little) {
    put16(b, at, tag, little);
    put16(b, at + 2, type, little);
    put32(b, at + 4, count, little);
    if (type == 3) {
      put16(b, at + 8, value, little);
    } else {
      put32(b, at + 8, value, little);
    }
  }

  private static void put16(byte[] b, int at, int v, boolean little) {
    b[at + (little ? 0 : 1)] = (byte) v;
    b[at + (little ? 1 : 0)] = (byte) (v >> 8);
  }

  private static void put32(byte[] b, int at, int v, boolean little) {
    put16(b, at + (little ? 0 : 2), v & 0xffff, little);
    put16(b, at + (little ? 2 : 0), v >>> 16, little);
  }

  /** A JPEG with the segment inserted after its JFIF APP0 segment (where cameras put theirs). */
  static byte[] withExif(byte[] jpeg, byte[] app1) {
    int at = 2;
    if ((jpeg[2] & 0xff) == 0xff && (jpeg[3] & 0xff) == 0xe0) {
      at = 4 + (((jpeg[4] & 0xff) << 8) | (jpeg[5] & 0xff));
    }
    byte[] out = new byte[jpeg.length + app1.length];
    System.arraycopy(jpeg, 0, out, 0, at);
    System.arraycopy(app1, 0, out, at, app1.length);
    System.arraycopy(jpeg, at, out, at + app1.length, jpeg.length - at);
    return out;
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
  void everyOrientationComesOutUpright(int orientation) throws IOException {
    for (boolean little : new boolean[] {true, false}) {
      byte[] file = withExif(jpeg(quadrants()), app1(orientation, little));
      assertEquals(orientation, Exif.orientation(file), "tag read back, little-endian " + little);
      BufferedImage up = PhotoFiles.decode(file, 64, 64, "test.jpg"); // no subsampling
      boolean turned = orientation >= 5;
      assertEquals(turned ? 16 : 32, up.getWidth(), "width, orientation " + orientation);
      assertEquals(turned ? 32 : 16, up.getHeight(), "height, orientation " + orientation);
      int w = up.getWidth();
      int h = up.getHeight();
      // the centre of each quadrant, well away from JPEG's blur across the edges
      int[] seen = {
          up.getRGB(w / 4, h / 4), up.getRGB(3 * w / 4, h / 4), up.getRGB(w / 4, 3 * h / 4), up.getRGB(3 * w / 4, 3 * h / 4)};
      for (int q = 0; q < 4; q++) {
        assertClose(EXPECTED[orientation][q], seen[q], "orientation " + orientation + " quadrant " + q);
      }
    }
  }

  private static void assertClose(int want, int got, String what) {
    for (int shift = 0; shift <= 16; shift += 8) {
      int a = (want >> shift) & 0xff;
      int b = (got >> shift) & 0xff;
      assertTrue(Math.abs(a - b) <= 40, what + ": want " + Integer.toHexString(want) + " got "
          + Integer.toHexString(got & 0xffffff));
    }
  }

  /** From a file, the EXIF header is read ahead and the pixels streamed: the same upright picture. */
  @Test
  void aFileIsReadUprightToo(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws IOException {
    java.nio.file.Path f = dir.resolve("turned.jpg");
    java.nio.file.Files.write(f, withExif(jpeg(quadrants()), app1(6, false)));
    BufferedImage up = PhotoFiles.read(f, 64, 64);
    assertEquals(16, up.getWidth());
    assertEquals(32, up.getHeight());
    assertClose(BLUE, up.getRGB(4, 8), "top-left");
    assertClose(GREEN, up.getRGB(12, 24), "bottom-right");
  }

  @Test
  void noTagAndOtherFilesAreNormal() throws IOException {
    assertEquals(Exif.NORMAL, Exif.orientation(jpeg(quadrants())));
    assertEquals(Exif.NORMAL, Exif.orientation(new byte[0]));
    assertEquals(Exif.NORMAL, Exif.orientation(null));
    assertEquals(Exif.NORMAL, Exif.orientation(new byte[] {(byte) 0x89, 'P', 'N', 'G'}));
    // a value outside 1..8 is ignored, not trusted
    assertEquals(Exif.NORMAL, Exif.orientation(withExif(jpeg(quadrants()), app1(9, true))));
    assertEquals(Exif.NORMAL, Exif.orientation(withExif(jpeg(quadrants()), app1(0, false))));
  }

  /** Every prefix, and seeded random corruptions, of a file with EXIF: a value in 1..8 and no exception. */
  @Test
  void truncatedAndCorruptHeadersNeverThrow() throws IOException {
    byte[] file = withExif(jpeg(quadrants()), app1(6, true));
    for (int n = 0; n <= file.length; n++) {
      int o = Exif.orientation(Arrays.copyOf(file, n));
      assertTrue(o == 1 || o == 6, "prefix of " + n + " bytes gave " + o);
    }
    long seed = 20;
    SplittableRandom rnd = new SplittableRandom(seed);
    for (int trial = 0; trial < 20_000; trial++) {
      byte[] b = Arrays.copyOf(file, 20 + 80);
      for (int k = 0; k < 1 + rnd.nextInt(6); k++) {
        b[2 + rnd.nextInt(b.length - 2)] = (byte) rnd.nextInt(256);
      }
      int o = Exif.orientation(b);
      assertTrue(o >= 1 && o <= 8, "seed " + seed + " trial " + trial + " gave " + o);
    }
  }
}
