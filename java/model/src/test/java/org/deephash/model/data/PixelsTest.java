package org.deephash.model.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import java.util.List;
import org.junit.jupiter.api.Test;

class PixelsTest {

  private static BufferedImage twoPixels() {
    BufferedImage b = new BufferedImage(2, 1, BufferedImage.TYPE_INT_RGB);
    b.setRGB(0, 0, 0xff0000);
    b.setRGB(1, 0, 0x0000ff);
    return b;
  }

  @Test
  void rgbIsRowMajorWithChannelsLast() {
    assertArrayEquals(new float[] {1, 0, 0, 0, 0, 1}, Pixels.of(twoPixels(), 1, 2, Pixels.Channels.RGB));
    BufferedImage tall = new BufferedImage(1, 2, BufferedImage.TYPE_INT_RGB);
    tall.setRGB(0, 0, 0x00ff00);
    tall.setRGB(0, 1, 0x336699);
    assertArrayEquals(new float[] {0, 1, 0, 0x33 / 255f, 0x66 / 255f, 0x99 / 255f},
        Pixels.of(tall, 2, 1, Pixels.Channels.RGB));
  }

  @Test
  void greyIsTheBt601Luma() {
    assertArrayEquals(new float[] {0.299f, 0.114f}, Pixels.of(twoPixels(), 1, 2, Pixels.Channels.GREY), 1e-6f);
    BufferedImage g = new BufferedImage(3, 1, BufferedImage.TYPE_BYTE_GRAY);
    g.getRaster().setSample(0, 0, 0, 0);
    g.getRaster().setSample(1, 0, 0, 128);
    g.getRaster().setSample(2, 0, 0, 255);
    assertArrayEquals(new float[] {0, 128 / 255f, 1}, Pixels.of(g, 1, 3, Pixels.Channels.GREY), 1e-6f);
  }

  /** Resizing keeps a flat colour flat and takes height before width, as the network's input does. */
  @Test
  void resizesToHeightByWidth() {
    BufferedImage flat = new BufferedImage(40, 30, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 30; y++) {
      for (int x = 0; x < 40; x++) {
        flat.setRGB(x, y, 0x804020);
      }
    }
    float[] px = Pixels.of(flat, 5, 7, Pixels.Channels.RGB);
    assertEquals(5 * 7 * 3, px.length);
    for (int i = 0; i < px.length; i += 3) {
      assertArrayEquals(new float[] {0x80 / 255f, 0x40 / 255f, 0x20 / 255f}, new float[] {px[i], px[i + 1], px[i + 2]});
    }
    // Left half black, right half white, scaled down 4x: the left columns stay black, the right white.
    BufferedImage half = new BufferedImage(16, 4, BufferedImage.TYPE_BYTE_GRAY);
    for (int y = 0; y < 4; y++) {
      for (int x = 8; x < 16; x++) {
        half.getRaster().setSample(x, y, 0, 255);
      }
    }
    float[] g = Pixels.of(half, 1, 4, Pixels.Channels.GREY);
    assertEquals(0f, g[0]);
    assertEquals(1f, g[3], 1e-6f);
  }

  @Test
  void toImageIsTheInverseOnExactValues() {
    float[] grey = {0, 1, 51 / 255f, 204 / 255f, 1, 0};
    Dataset d = new Dataset(1, 2, 3, 1, grey, new int[] {0}, List.of("a"), List.of("x#0"));
    BufferedImage img = Pixels.toImage(d, 0);
    assertEquals(3, img.getWidth());
    assertEquals(2, img.getHeight());
    assertArrayEquals(grey, Pixels.of(img, 2, 3, Pixels.Channels.GREY), 1e-6f);
    float[] rgb = {1, 0, 0, 0, 0.2f, 1};
    BufferedImage c = Pixels.toImage(rgb, 0, 1, 2, Pixels.Channels.RGB);
    assertEquals(0xff0000, c.getRGB(0, 0) & 0xffffff);
    assertEquals(0x0033ff, c.getRGB(1, 0) & 0xffffff);
  }

  @Test
  void badArgumentsSayWhatIsWrong() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Pixels.Channels.of(2));
    assertEquals("channels must be 1 (grey) or 3 (RGB) (passed 2)", e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Pixels.of(twoPixels(), 0, 2, Pixels.Channels.RGB));
    assertThrows(IllegalArgumentException.class, () -> Pixels.of(null, 1, 2, Pixels.Channels.RGB));
  }
}
