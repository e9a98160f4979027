package org.deephash.delf.data;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferInt;
import java.awt.image.Raster;
import org.deephash.delf.geometry.Homography;

/**
 * Pixel operations behind {@link Photos} and {@link Views}, on {@code TYPE_INT_RGB} images. Plain
 * loops over the pixel arrays, so results are identical on every JVM and display setup (Java2D's
 * scaling may pick different loops per pipeline). Arguments are assumed valid.
 *
 * <p>Coordinates follow {@link Homography}: pixel {@code (i, j)} has its centre at {@code (i +
 * 0.5, j + 0.5)}.
 */
final class Images {

  private Images() {}

  static BufferedImage newRgb(int w, int h) {
    return new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
  }

  /** The pixel array behind a TYPE_INT_RGB image (0xRRGGBB, row-major). */
  static int[] pixels(BufferedImage rgb) {
    return ((DataBufferInt) rgb.getRaster().getDataBuffer()).getData();
  }

  /** A TYPE_INT_RGB copy (or the image itself when it already is one). */
  static BufferedImage toRgb(BufferedImage img) {
    if (img.getType() == BufferedImage.TYPE_INT_RGB) {
      return img;
    }
    int w = img.getWidth();
    int h = img.getHeight();
    BufferedImage out = newRgb(w, h);
    int[] px = pixels(out);
    int[] row = new int[w];
    for (int y = 0; y < h; y++) {
      readRow(img, y, row);
      System.arraycopy(row, 0, px, y * w, w);
    }
    return out;
  }

  /**
   * Row {@code y} of any image as 0xRRGGBB, transparent pixels composited onto white.
   *
   * <p>Grey images are read from their samples: {@code getRGB} would treat their linear grey colour
   * space as such and brighten the mid-tones of ordinary (gamma-encoded) grey PNGs and JPEGs.
   */
  static void readRow(BufferedImage img, int y, int[] out) {
    int w = img.getWidth();
    Raster r = img.getRaster();
    boolean gray = img.getColorModel().getColorSpace().getType() == ColorSpace.TYPE_GRAY;
    if (gray && (r.getNumBands() == 1 || r.getNumBands() == 2)) {
      int bits = img.getColorModel().getComponentSize(0);
      int[] g = r.getSamples(0, y, w, 1, 0, (int[]) null);
      int[] a = r.getNumBands() == 2 ? r.getSamples(0, y, w, 1, 1, (int[]) null) : null;
      int abits = a == null ? 8 : img.getColorModel().getComponentSize(1);
      for (int x = 0; x < w; x++) {
        int v = to8(g[x], bits);
        if (a != null) {
          v = over(v, to8(a[x], abits));
        }
        out[x] = v << 16 | v << 8 | v;
      }
      return;
    }
    img.getRGB(0, y, w, 1, out, 0, w);
    if (img.getColorModel().hasAlpha()) {
      for (int x = 0; x < w; x++) {
        int p = out[x];
        int al = p >>> 24;
        out[x] = over(p >> 16 & 255, al) << 16 | over(p >> 8 & 255, al) << 8 | over(p & 255, al);
      }
    } else {
      for (int x = 0; x < w; x++) {
        out[x] &= 0xFFFFFF;
      }
    }
  }

  private static int to8(int v, int bits) {
    return bits == 8 ? v : bits > 8 ? v >>> (bits - 8) : v * 255 / ((1 << bits) - 1);
  }

  /** Channel value {@code c} with alpha {@code a} over white. */
  private static int over(int c, int a) {
    return (c * a + 255 * (255 - a) + 127) / 255;
  }

  /**
   * The image as TYPE_INT_RGB with its longer side at most {@code maxSide}, shrunk by area
   * averaging (never enlarged). Works row by row, so a large JPEG is never held twice at full size.
   */
  static BufferedImage fitWithin(BufferedImage img, int maxSide) {
    int w = img.getWidth();
    int h = img.getHeight();
    int longer = Math.max(w, h);
    if (longer <= maxSide) {
      return toRgb(img);
    }
    double s = (double) maxSide / longer;
    int ow = Math.max(1, (int) Math.round(w * s));
    int oh = Math.max(1, (int) Math.round(h * s));
    return resizeArea(img, 0, 0, w, h, ow, oh);
  }

  /**
   * Area-averaging resize of the window {@code [x0, x0+w) x [y0, y0+h)} of {@code img} to {@code
   * ow x oh} (each no larger than the window): output pixel {@code i} averages the source interval
   * {@code [i w/ow, (i+1) w/ow)}, with fractional weights at its ends. The map from window to
   * output is exactly {@code scaling(ow / w, oh / h)}.
   */
  static BufferedImage resizeArea(BufferedImage img, int x0, int y0, int w, int h, int ow, int oh) {
    Taps tx = Taps.area(w, ow);
    Taps ty = Taps.area(h, oh);
    // Horizontal pass row by row into three float planes of h x ow, then the vertical pass.
    float[] r = new float[h * ow];
    float[] g = new float[h * ow];
    float[] b = new float[h * ow];
    int[] full = new int[img.getWidth()];
    boolean direct = img.getType() == BufferedImage.TYPE_INT_RGB;
    int[] src = direct ? pixels(img) : null;
    for (int y = 0; y < h; y++) {
      int off;
      int[] row;
      if (direct) {
        row = src;
        off = (y0 + y) * img.getWidth() + x0;
      } else {
        readRow(img, y0 + y, full);
        row = full;
        off = x0;
      }
      for (int i = 0; i < ow; i++) {
        float sr = 0, sg = 0, sb = 0;
        for (int t = tx.start[i]; t < tx.start[i + 1]; t++) {
          int p = row[off + tx.index[t]];
          float wt = tx.weight[t];
          sr += wt * (p >> 16 & 255);
          sg += wt * (p >> 8 & 255);
          sb += wt * (p & 255);
        }
        r[y * ow + i] = sr;
        g[y * ow + i] = sg;
        b[y * ow + i] = sb;
      }
    }
    BufferedImage out = newRgb(ow, oh);
    int[] px = pixels(out);
    for (int j = 0; j < oh; j++) {
      for (int i = 0; i < ow; i++) {
        float sr = 0, sg = 0, sb = 0;
        for (int t = ty.start[j]; t < ty.start[j + 1]; t++) {
          int k = ty.index[t] * ow + i;
          float wt = ty.weight[t];
          sr += wt * r[k];
          sg += wt * g[k];
          sb += wt * b[k];
        }
        px[j * ow + i] = clamp8(sr) << 16 | clamp8(sg) << 8 | clamp8(sb);
      }
    }
    return out;
  }

  /** Per output index, the source indices and weights of a 1-D resampling (CSR layout). */
  private record Taps(int[] start, int[] index, float[] weight) {

    static Taps area(int n, int on) {
      double step = (double) n / on;
      int[] start = new int[on + 1];
      int cap = on * ((int) Math.ceil(step) + 2);
      int[] index = new int[cap];
      float[] weight = new float[cap];
      int t = 0;
      for (int i = 0; i < on; i++) {
        start[i] = t;
        double lo = i * step;
        double hi = Math.min(n, (i + 1) * step);
        for (int k = (int) Math.floor(lo); k < hi && k < n; k++) {
          double cover = Math.min(hi, k + 1) - Math.max(lo, k);
          if (cover > 0) {
            index[t] = k;
            weight[t] = (float) (cover / step);
            t++;
          }
        }
      }
      start[on] = t;
      return new Taps(start, index, weight);
    }
  }

  /**
   * Renders {@code src} through {@code srcToDst} onto a {@code w x h} image: each output pixel
   * centre is mapped back into the source and sampled bilinearly; points outside the source get
   * {@code fill}.
   */
  static BufferedImage warp(BufferedImage src, Homography srcToDst, int w, int h, int fill) {
    BufferedImage s = toRgb(src);
    int sw = s.getWidth();
    int sh = s.getHeight();
    int[] in = pixels(s);
    BufferedImage out = newRgb(w, h);
    int[] px = pixels(out);
    double[] m = srcToDst.inverse().toArray();
    for (int v = 0; v < h; v++) {
      double yc = v + 0.5;
      for (int u = 0; u < w; u++) {
        double xc = u + 0.5;
        double z = m[6] * xc + m[7] * yc + m[8];
        double x = (m[0] * xc + m[1] * yc + m[2]) / z;
        double y = (m[3] * xc + m[4] * yc + m[5]) / z;
        // z <= 0: behind the vanishing line, no source point
        if (!(z > 0) || !(x >= 0 && x <= sw && y >= 0 && y <= sh)) {
          px[v * w + u] = fill;
          continue;
        }
        px[v * w + u] = bilinear(in, sw, sh, x - 0.5, y - 0.5);
      }
    }
    return out;
  }

  /** Bilinear sample at index-space position (fx, fy), edges clamped. */
  private static int bilinear(int[] in, int w, int h, double fx, double fy) {
    int x0 = (int) Math.floor(fx);
    int y0 = (int) Math.floor(fy);
    double ax = fx - x0;
    double ay = fy - y0;
    int xa = clamp(x0, 0, w - 1);
    int xb = clamp(x0 + 1, 0, w - 1);
    int ya = clamp(y0, 0, h - 1);
    int yb = clamp(y0 + 1, 0, h - 1);
    int p00 = in[ya * w + xa];
    int p10 = in[ya * w + xb];
    int p01 = in[yb * w + xa];
    int p11 = in[yb * w + xb];
    int out = 0;
    for (int sh = 16; sh >= 0; sh -= 8) {
      double top = (p00 >> sh & 255) * (1 - ax) + (p10 >> sh & 255) * ax;
      double bot = (p01 >> sh & 255) * (1 - ax) + (p11 >> sh & 255) * ax;
      out |= clamp8(top * (1 - ay) + bot * ay) << sh;
    }
    return out;
  }

  /**
   * Colour change in place: hue rotation by {@code hueDeg} (in the YIQ chroma plane), saturation
   * factor, contrast factor about the mean luma, then brightness factor.
   */
  static void color(BufferedImage rgb, double brightness, double contrast, double saturation, double hueDeg) {
    int[] px = pixels(rgb);
    double meanY = 0;
    for (int p : px) {
      meanY += 0.299 * (p >> 16 & 255) + 0.587 * (p >> 8 & 255) + 0.114 * (p & 255);
    }
    meanY /= px.length;
    double c = Math.cos(Math.toRadians(hueDeg));
    double s = Math.sin(Math.toRadians(hueDeg));
    for (int k = 0; k < px.length; k++) {
      int p = px[k];
      double r = p >> 16 & 255;
      double g = p >> 8 & 255;
      double b = p & 255;
      double y = 0.299 * r + 0.587 * g + 0.114 * b;
      double i = 0.595716 * r - 0.274453 * g - 0.321263 * b;
      double q = 0.211456 * r - 0.522591 * g + 0.311135 * b;
      double i2 = (c * i - s * q) * saturation;
      double q2 = (s * i + c * q) * saturation;
      y = ((y - meanY) * contrast + meanY) * brightness;
      i2 *= contrast * brightness;
      q2 *= contrast * brightness;
      r = y + 0.9563 * i2 + 0.6210 * q2;
      g = y - 0.2721 * i2 - 0.6474 * q2;
      b = y - 1.1070 * i2 + 1.7046 * q2;
      px[k] = clamp8(r) << 16 | clamp8(g) << 8 | clamp8(b);
    }
  }

  /** Separable Gaussian blur in place, kernel radius ceil(3 sigma), edges clamped. */
  static void gaussianBlur(BufferedImage rgb, double sigma) {
    int radius = (int) Math.ceil(3 * sigma);
    if (sigma <= 0 || radius < 1) {
      return;
    }
    float[] k = new float[2 * radius + 1];
    double sum = 0;
    for (int i = -radius; i <= radius; i++) {
      double v = Math.exp(-0.5 * i * i / (sigma * sigma));
      k[i + radius] = (float) v;
      sum += v;
    }
    for (int i = 0; i < k.length; i++) {
      k[i] /= (float) sum;
    }
    int w = rgb.getWidth();
    int h = rgb.getHeight();
    int[] px = pixels(rgb);
    float[][] tmp = new float[3][w * h];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        float r = 0, g = 0, b = 0;
        for (int t = -radius; t <= radius; t++) {
          int p = px[y * w + clamp(x + t, 0, w - 1)];
          float kv = k[t + radius];
          r += kv * (p >> 16 & 255);
          g += kv * (p >> 8 & 255);
          b += kv * (p & 255);
        }
        tmp[0][y * w + x] = r;
        tmp[1][y * w + x] = g;
        tmp[2][y * w + x] = b;
      }
    }
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        float r = 0, g = 0, b = 0;
        for (int t = -radius; t <= radius; t++) {
          int q = clamp(y + t, 0, h - 1) * w + x;
          float kv = k[t + radius];
          r += kv * tmp[0][q];
          g += kv * tmp[1][q];
          b += kv * tmp[2][q];
        }
        px[y * w + x] = clamp8(r) << 16 | clamp8(g) << 8 | clamp8(b);
      }
    }
  }

  /** Fills a rectangle (already inside the image) with one colour. */
  static void fillRect(BufferedImage rgb, int x0, int y0, int rw, int rh, int color) {
    int w = rgb.getWidth();
    int[] px = pixels(rgb);
    for (int y = y0; y < y0 + rh; y++) {
      java.util.Arrays.fill(px, y * w + x0, y * w + x0 + rw, color & 0xFFFFFF);
    }
  }

  /** Copies {@code patch} (TYPE_INT_RGB, already inside the image at that place) into {@code rgb} at (x0, y0). */
  static void paste(BufferedImage rgb, int x0, int y0, BufferedImage patch) {
    int w = rgb.getWidth();
    int pw = patch.getWidth();
    int[] px = pixels(rgb);
    int[] from = pixels(patch);
    for (int y = 0; y < patch.getHeight(); y++) {
      System.arraycopy(from, y * pw, px, (y0 + y) * w + x0, pw);
    }
  }

  static int clamp(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
  }

  static int clamp8(double v) {
    long r = Math.round(v);
    return r < 0 ? 0 : r > 255 ? 255 : (int) r;
  }
}
