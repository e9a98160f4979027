package org.deephash.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import javax.imageio.ImageIO;
import org.deephash.model.data.Pixels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Uploads to model input: subsampling while decoding, the decode budget, and the formats read. */
class ImageDecoderTest {
  private static final ServeConfig LIMITS = ServeConfig.defaults();

  private static byte[] encode(BufferedImage img, String format) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertTrue(ImageIO.write(img, format, out), format);
    return out.toByteArray();
  }

  /** A smooth picture (diagonal gradient and a soft disc), where subsampling loses little. */
  private static BufferedImage smooth(int w, int h, int type) {
    BufferedImage img = new BufferedImage(w, h, type);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        double dx = x - w / 2.0;
        double dy = y - h / 2.0;
        int disc = Math.sqrt(dx * dx + dy * dy) < Math.min(w, h) / 3.0 ? 90 : 0;
        int r = (int) (255.0 * x / w * 0.6) + disc;
        int g = (int) (255.0 * y / h * 0.6) + disc / 2;
        int b = 40 + disc;
        img.setRGB(x, y, (Math.min(r, 255) << 16) | (Math.min(g, 255) << 8) | Math.min(b, 255));
      }
    }
    return img;
  }

  @Test
  void aSmallImageIsDecodedWholeAndGivesTheSameInputAsBefore() throws IOException {
    BufferedImage img = smooth(30, 20, BufferedImage.TYPE_INT_RGB);
    byte[] png = encode(img, "png");
    ImageDecoder d = new ImageDecoder(new DecodeBudget(16 << 20));
    ImageDecoder.Decoded out = d.decode(png, LIMITS, 28, 28, Pixels.Channels.GREY);
    assertEquals(30, out.decodedWidth());
    assertEquals(20, out.decodedHeight());
    assertArrayEquals(Pixels.of(ImageIO.read(new ByteArrayInputStream(png)), 28, 28, Pixels.Channels.GREY),
        out.pixels());
    assertEquals(0, d.budget().inFlight(), "the reservation is given back");
  }

  /**
   * A WebP upload (lossless, made with cwebp from pixel (x, y) = (4x, 5y, 2(x + y)), 64 x 48) gives
   * the model input of that picture; the reservation covers a whole frame, given back after.
   */
  @Test
  void aWebpUploadIsDecoded() throws IOException {
    byte[] webp;
    try (var in = ImageDecoderTest.class.getResourceAsStream("gradient-lossless.webp")) {
      webp = in.readAllBytes();
    }
    BufferedImage want = new BufferedImage(64, 48, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 48; y++) {
      for (int x = 0; x < 64; x++) {
        want.setRGB(x, y, (4 * x) << 16 | (5 * y) << 8 | 2 * (x + y));
      }
    }
    assertEquals(new ImageDecoder.Header("webp", 64, 48), ImageDecoder.header(webp, LIMITS));
    ImageDecoder d = new ImageDecoder(new DecodeBudget(16 << 20));
    ImageDecoder.Decoded out = d.decode(webp, LIMITS, 64, 48, Pixels.Channels.RGB);
    assertArrayEquals(Pixels.of(want, 64, 48, Pixels.Channels.RGB), out.pixels());
    assertEquals(0, d.budget().inFlight(), "the reservation is given back");
  }

  /**
   * A JPEG stored turned with EXIF orientation 6 ("turn 90 degrees clockwise to view") gives the
   * input of the upright picture: quadrants red, green / blue, white stored 64 x 32 come out 32 x 64
   * with blue, red / white, green (the EXIF definition, written out by hand).
   */
  @Test
  void aJpegIsTurnedUprightByItsExifOrientation() throws IOException {
    BufferedImage stored = new BufferedImage(64, 32, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 32; y++) {
      for (int x = 0; x < 64; x++) {
        stored.setRGB(x, y, y < 16 ? (x < 32 ? 0xff0000 : 0x00ff00) : (x < 32 ? 0x0000ff : 0xffffff));
      }
    }
    byte[] jpeg = withOrientation(encode(stored, "jpeg"), 6);
    ImageDecoder d = new ImageDecoder(new DecodeBudget(16 << 20));
    ImageDecoder.Decoded out = d.decode(jpeg, LIMITS, 16, 16, Pixels.Channels.RGB);
    assertEquals(32, out.width(), "upright width");
    assertEquals(64, out.height(), "upright height");
    int[][] want = {{0, 0, 255}, {255, 0, 0}, {255, 255, 255}, {0, 255, 0}}; // TL, TR, BL, BR
    int[][] at = {{4, 4}, {11, 4}, {4, 11}, {11, 11}}; // quadrant centres of the 16 x 16 input (x, y)
    for (int q = 0; q < 4; q++) {
      int o = (at[q][1] * 16 + at[q][0]) * 3;
      for (int c = 0; c < 3; c++) {
        assertEquals(want[q][c] / 255.0, out.pixels()[o + c], 0.16, "quadrant " + q + " channel " + c);
      }
    }
    assertEquals(0, d.budget().inFlight(), "the reservation is given back");
  }

  /** JPEG bytes with an APP1 "Exif" segment (big-endian TIFF, IFD0 with one Orientation entry). */
  private static byte[] withOrientation(byte[] jpeg, int orientation) {
    byte[] tiff = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (byte) orientation, 0, 0,
        0, 0, 0, 0};
    byte[] app1 = new byte[4 + 6 + tiff.length];
    app1[0] = (byte) 0xff;
    app1[1] = (byte) 0xe1;
    app1[2] = (byte) ((app1.length - 2) >> 8);
    app1[3] = (byte) (app1.length - 2);
    System.arraycopy(new byte[] {'E', 'x', 'i', 'f', 0, 0}, 0, app1, 4, 6);
    System.arraycopy(tiff, 0, app1, 10, tiff.length);
    // after the JFIF APP0 segment, where cameras put theirs
    int at = (jpeg[3] & 0xff) == 0xe0 ? 4 + (((jpeg[4] & 0xff) << 8) | (jpeg[5] & 0xff)) : 2;
    byte[] out = new byte[jpeg.length + app1.length];
    System.arraycopy(jpeg, 0, out, 0, at);
    System.arraycopy(app1, 0, out, at, app1.length);
    System.arraycopy(jpeg, at, out, at + app1.length, jpeg.length - at);
    return out;
  }

  @Test
  void aLargeImageIsSubsampledWhileDecodingToTwiceTheModelInput() throws IOException {
    BufferedImage img = smooth(2000, 1500, BufferedImage.TYPE_INT_RGB);
    byte[] png = encode(img, "png");
    DecodeBudget budget = new DecodeBudget(16 << 20);
    ImageDecoder.Decoded out = new ImageDecoder(budget).decode(png, LIMITS, 28, 28, Pixels.Channels.RGB);
    assertEquals(2000, out.width());
    assertEquals(1500, out.height());
    // 2000 / (2 * 28) = 35 and 1500 / 56 = 26: at least 56 x 56 left, far from 2000 x 1500
    assertEquals(58, out.decodedWidth());
    assertEquals(58, out.decodedHeight());
    assertTrue(budget.peak() < 58 * 58 * 4 + 2000 * 16 + 1, "reserved only the subsampled raster: " + budget.peak());
    // close to the input made from the whole decoded picture
    float[] whole = Pixels.of(img, 28, 28, Pixels.Channels.RGB);
    double diff = 0;
    for (int i = 0; i < whole.length; i++) {
      diff += Math.abs(whole[i] - out.pixels()[i]);
    }
    assertTrue(diff / whole.length < 0.02, "mean difference " + diff / whole.length);
  }

  /** The reservation is an upper bound on the raster each standard reader makes. */
  @ParameterizedTest
  @ValueSource(strings = {"png-grey", "png-rgba16", "png-palette", "jpeg", "gif", "bmp"})
  void theReservationCoversTheRaster(String kind) throws IOException {
    byte[] body = switch (kind) {
      case "png-grey" -> encode(smooth(300, 200, BufferedImage.TYPE_BYTE_GRAY), "png");
      case "png-rgba16" -> Pngs.zeros(300, 200, Pngs.RGBA, 16, 0);
      case "png-palette" -> Pngs.zeros(300, 200, Pngs.PALETTE, 8, 0);
      case "jpeg" -> encode(smooth(300, 200, BufferedImage.TYPE_INT_RGB), "jpeg");
      case "gif" -> encode(smooth(300, 200, BufferedImage.TYPE_BYTE_INDEXED), "gif");
      default -> encode(smooth(300, 200, BufferedImage.TYPE_3BYTE_BGR), "bmp");
    };
    DecodeBudget budget = new DecodeBudget(16 << 20);
    new ImageDecoder(budget).decode(body, LIMITS, 224, 224, Pixels.Channels.RGB);
    assertEquals(0, budget.underestimated(), kind);
    assertTrue(budget.peak() > 0, kind);
    assertEquals(0, budget.inFlight(), kind);
  }

  @Test
  void theBudgetRefusesWhatDoesNotFitNowAndWhatNeverFits() {
    // 1024 x 1024 16-bit RGBA for a 1024 x 1024 model: no subsampling, 8 MiB of raster
    byte[] big = Pngs.zeros(1024, 1024, Pngs.RGBA, 16, 0);
    ImageDecoder small = new ImageDecoder(new DecodeBudget(4 << 20));
    ApiException e = assertThrows(ApiException.class,
        () -> small.decode(big, LIMITS, 1024, 1024, Pixels.Channels.RGB));
    assertEquals(413, e.status());
    assertTrue(e.getMessage().contains("more than the server's decode budget of 4 MiB"), e.getMessage());

    DecodeBudget budget = new DecodeBudget(12 << 20);
    ImageDecoder d = new ImageDecoder(budget);
    try (DecodeBudget.Permit other = budget.tryAcquire(6 << 20)) {
      assertTrue(other != null);
      e = assertThrows(ApiException.class, () -> d.decode(big, LIMITS, 1024, 1024, Pixels.Channels.RGB));
      assertEquals(503, e.status());
      assertTrue(e.getMessage().startsWith("the server is decoding other images now"), e.getMessage());
      assertEquals(1, budget.refused());
    }
    // once the other upload is done it fits
    assertEquals(1024 * 1024 * 3, d.decode(big, LIMITS, 1024, 1024, Pixels.Channels.RGB).pixels().length);
    assertTrue(budget.peak() >= 8L << 20 && budget.peak() <= 12L << 20, "peak " + budget.peak());
    assertEquals(0, budget.inFlight());
    assertEquals(0, budget.underestimated());
  }

  @Test
  void aBombWithinTheLimitsDecodesSmallForASmallModel() {
    // 4096 x 4096 16-bit RGBA zeros: a ~130 KB file announcing a 128 MiB raster
    byte[] bomb = Pngs.zeros(4096, 4096, Pngs.RGBA, 16, 0);
    assertTrue(bomb.length < 200_000, "size " + bomb.length);
    DecodeBudget budget = new DecodeBudget(16 << 20);
    ImageDecoder.Decoded out = new ImageDecoder(budget).decode(bomb, LIMITS, 28, 28, Pixels.Channels.GREY);
    assertEquals(4096 / 73 + 1, out.decodedWidth()); // 4096 / 56 = 73
    assertTrue(budget.peak() < 1 << 20, "peak " + budget.peak());
    float[] zeros = new float[28 * 28];
    assertArrayEquals(zeros, out.pixels());
  }

  @Test
  void brokenAndForeignImagesAreClientErrors() throws IOException {
    byte[] png = encode(smooth(300, 200, BufferedImage.TYPE_INT_RGB), "png");
    ImageDecoder d = new ImageDecoder(new DecodeBudget(16 << 20));
    ApiException e = assertThrows(ApiException.class,
        () -> d.decode(Arrays.copyOf(png, png.length / 2), LIMITS, 28, 28, Pixels.Channels.GREY));
    assertEquals(400, e.status());
    assertTrue(e.getMessage().startsWith("the image could not be decoded"), e.getMessage());
    assertEquals(0, d.budget().inFlight(), "given back after a failed decode");
    byte[] tiff = encode(smooth(30, 20, BufferedImage.TYPE_INT_RGB), "tiff");
    e = assertThrows(ApiException.class, () -> d.decode(tiff, LIMITS, 28, 28, Pixels.Channels.GREY));
    assertEquals(400, e.status());
    e = assertThrows(ApiException.class, () -> ImageDecoder.header(Pngs.zeros(5000, 10, Pngs.GREY, 8, 0), LIMITS));
    assertEquals(413, e.status());
    assertEquals(new ImageDecoder.Header("png", 4096, 16), ImageDecoder.header(Pngs.zeros(4096, 16, Pngs.GREY, 8, 0),
        LIMITS));
  }
}
