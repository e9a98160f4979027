package org.deephash.model.data;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;

/**
 * Decoded pictures to the floats a network takes, and back: apart from the format loaders
 * ({@link Datasets}), since a picture may come from a file, an upload (engine-cli serve) or a
 * synthetic view (DELF training).
 *
 * <p>One routine serves every network; what differs between them is a parameter: the output size
 * and {@link Channels} (the hashing network on Fashion-MNIST takes grey, DELF and CIFAR-10 take
 * RGB). The resampling is bilinear (Java2D {@code drawImage} with {@code
 * VALUE_INTERPOLATION_BILINEAR}); DELF's extractor used to add {@code KEY_RENDERING =
 * VALUE_RENDER_QUALITY}, which gives bit-identical pixels in every case measured (5 source pixel
 * types, down- and up-scaling, headless), so that hint is gone rather than made a parameter.
 *
 * <pre>{@code
 * float[] grey = Pixels.of(upload, 28, 28, Pixels.Channels.GREY);  // 28 x 28 x 1
 * float[] rgb = Pixels.of(photo, 224, 320, Pixels.Channels.RGB);   // 224 rows x 320 columns x 3
 * }</pre>
 */
public final class Pixels {
  private Pixels() {}

  /** How a picture's colours become the network's input channels. */
  public enum Channels {
    /** One channel, the luma {@code 0.299 R + 0.587 G + 0.114 B} (ITU-R BT.601). */
    GREY(1),
    /** Three channels: R, G, B. */
    RGB(3);

    private final int count;

    Channels(int count) {
      this.count = count;
    }

    /** Floats per pixel. */
    public int count() {
      return count;
    }

    /** {@code GREY} for 1, {@code RGB} for 3. */
    public static Channels of(int count) {
      return switch (count) {
        case 1 -> GREY;
        case 3 -> RGB;
        default -> throw new IllegalArgumentException("channels must be 1 (grey) or 3 (RGB) (passed " + count + ")");
      };
    }
  }

  /**
   * A picture resized (bilinear) to {@code height x width}, as row-major {@code height x width x
   * channels} floats in [0, 1].
   */
  public static float[] of(BufferedImage src, int height, int width, Channels channels) {
    if (src == null || channels == null) {
      throw new IllegalArgumentException("src and channels must not be null");
    }
    if (height < 1 || width < 1 || (long) height * width > Integer.MAX_VALUE / 3) {
      throw new IllegalArgumentException("cannot resize to " + height + "x" + width + " pixels");
    }
    BufferedImage dst = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = dst.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
      g.drawImage(src, 0, 0, width, height, null);
    } finally {
      g.dispose();
    }
    int[] rgb = dst.getRGB(0, 0, width, height, null, 0, width);
    float[] out = new float[rgb.length * channels.count()];
    for (int i = 0; i < rgb.length; i++) {
      int r = (rgb[i] >> 16) & 0xff;
      int gr = (rgb[i] >> 8) & 0xff;
      int b = rgb[i] & 0xff;
      if (channels == Channels.GREY) {
        out[i] = (0.299f * r + 0.587f * gr + 0.114f * b) / 255f;
      } else {
        out[3 * i] = r / 255f;
        out[3 * i + 1] = gr / 255f;
        out[3 * i + 2] = b / 255f;
      }
    }
    return out;
  }

  /**
   * A picture turned upright as its EXIF orientation ({@link Exif}, 1..8) says: the stored pixels
   * mirrored and/or rotated so that they are seen as the camera's user saw them. Orientation 1 (or
   * any value outside 1..8) returns {@code src} itself; the others return a new RGB (or ARGB, when
   * {@code src} has alpha) picture, 5..8 with width and height swapped.
   */
  public static BufferedImage orient(BufferedImage src, int orientation) {
    if (src == null) {
      throw new IllegalArgumentException("src must not be null");
    }
    if (orientation < 2 || orientation > 8) {
      return src;
    }
    int w = src.getWidth();
    int h = src.getHeight();
    boolean swap = orientation >= 5;
    int ow = swap ? h : w;
    int oh = swap ? w : h;
    int[] in = src.getRGB(0, 0, w, h, null, 0, w);
    int[] out = new int[in.length];
    for (int y = 0; y < oh; y++) {
      for (int x = 0; x < ow; x++) {
        // the stored pixel (sx, sy) seen at (x, y) once upright
        int sx;
        int sy;
        switch (orientation) {
          case 2 -> { sx = w - 1 - x; sy = y; }            // mirrored left-right
          case 3 -> { sx = w - 1 - x; sy = h - 1 - y; }    // upside down
          case 4 -> { sx = x; sy = h - 1 - y; }            // mirrored top-bottom
          case 5 -> { sx = y; sy = x; }                    // transposed
          case 6 -> { sx = y; sy = h - 1 - x; }            // stored turned 90 degrees anticlockwise
          case 7 -> { sx = w - 1 - y; sy = h - 1 - x; }    // transversed
          default -> { sx = w - 1 - y; sy = x; }           // 8: stored turned 90 degrees clockwise
        }
        out[y * ow + x] = in[sy * w + sx];
      }
    }
    BufferedImage dst = new BufferedImage(ow, oh,
        src.getColorModel().hasAlpha() ? BufferedImage.TYPE_INT_ARGB : BufferedImage.TYPE_INT_RGB);
    dst.setRGB(0, 0, ow, oh, out, 0, ow);
    return dst;
  }

  /** Image {@code i} of a dataset as a picture: 8-bit grey for 1 channel, RGB for 3. */
  public static BufferedImage toImage(Dataset d, int i) {
    return toImage(d.pixels(), i * d.imageSize(), d.height(), d.width(), Channels.of(d.channels()));
  }

  /**
   * Row-major {@code height x width x channels} floats in [0, 1] from {@code offset} as a picture:
   * 8-bit grey for {@code GREY}, RGB for {@code RGB}; values are rounded to the nearest 1/255.
   */
  public static BufferedImage toImage(float[] px, int offset, int height, int width, Channels channels) {
    int c = channels.count();
    BufferedImage img = new BufferedImage(width, height,
        c == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        int o = offset + (y * width + x) * c;
        int r = byteOf(px[o]);
        if (c == 1) {
          img.getRaster().setSample(x, y, 0, r);
        } else {
          img.setRGB(x, y, (r << 16) | (byteOf(px[o + 1]) << 8) | byteOf(px[o + 2]));
        }
      }
    }
    return img;
  }

  private static int byteOf(float v) {
    return Math.max(0, Math.min(255, Math.round(v * 255)));
  }
}
