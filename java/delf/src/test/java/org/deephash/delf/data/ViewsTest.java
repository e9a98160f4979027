package org.deephash.delf.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Rectangle;
import java.awt.image.BufferedImage;
import java.util.EnumSet;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.deephash.delf.data.Views.Component;
import org.deephash.delf.geometry.Homography;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ViewsTest {

  private static final int W = 320;
  private static final int H = 240;
  private static final int MARK = 4; // the marker is (2 * MARK + 1) pixels square

  /** Grey texture: no red in it, so a red marker is easy to find after any geometric change. */
  private static BufferedImage background() {
    BufferedImage img = Images.newRgb(W, H);
    int[] px = Images.pixels(img);
    for (int y = 0; y < H; y++) {
      for (int x = 0; x < W; x++) {
        int v = 90 + (x * 7 + y * 13) % 50;
        px[y * W + x] = v << 16 | v << 8 | v;
      }
    }
    return img;
  }

  /** Options with exactly these components on, at the query recipe's ranges. */
  private static Views.Options only(EnumSet<Component> on) {
    Views.Builder b = Views.Options.query().toBuilder();
    for (Component c : Component.values()) {
      if (!on.contains(c)) {
        b.off(c);
      }
    }
    return b.build();
  }

  static Stream<Arguments> geometric() {
    Stream.Builder<Arguments> s = Stream.builder();
    EnumSet<Component> allGeometric =
        EnumSet.of(Component.CROP, Component.SCALE, Component.ROTATION, Component.PERSPECTIVE);
    for (EnumSet<Component> set : java.util.List.of(
        EnumSet.of(Component.CROP), EnumSet.of(Component.SCALE), EnumSet.of(Component.ROTATION),
        EnumSet.of(Component.PERSPECTIVE), EnumSet.of(Component.BLUR), allGeometric,
        EnumSet.of(Component.CROP, Component.SCALE, Component.ROTATION, Component.PERSPECTIVE, Component.BLUR))) {
      for (long seed : new long[] {1, 2, 3, 17, 99}) {
        s.add(Arguments.of(set, seed));
      }
    }
    return s.build();
  }

  /**
   * Draws a marker at a source point p, makes the view, and finds the marker: its centre must be
   * at transform(p), and the view pixel there must be the marker's colour.
   */
  @ParameterizedTest(name = "{0} seed {1}")
  @MethodSource("geometric")
  void aSourcePointLandsWhereTheTransformSays(EnumSet<Component> on, long seed) {
    Views.Options o = only(on);
    BufferedImage bg = background();
    // The transform depends on the sizes and the seed only: make it once to choose p inside the view.
    Homography t = Views.generate(bg, o, seed).transform();
    Views.View probe = Views.generate(bg, o, seed);
    int vw = probe.image().getWidth();
    int vh = probe.image().getHeight();
    SplittableRandom r = new SplittableRandom(seed);
    double tu = vw * (0.3 + 0.4 * r.nextDouble());
    double tv = vh * (0.3 + 0.4 * r.nextDouble());
    double[] p = t.inverse().map(tu, tv);
    int px = Images.clamp((int) Math.floor(p[0]), MARK + 1, W - MARK - 2);
    int py = Images.clamp((int) Math.floor(p[1]), MARK + 1, H - MARK - 2);

    BufferedImage marked = background();
    Images.fillRect(marked, px - MARK, py - MARK, 2 * MARK + 1, 2 * MARK + 1, 0xE01010);
    Views.View v = Views.generate(marked, o, seed);
    assertEquals(t, v.transform(), "the transform must not depend on the pixels");

    double[] q = t.map(px + 0.5, py + 0.5);
    double[] c = redCentroid(v.image());
    String where = String.format("seed %d: marker at (%d, %d) -> expected (%.2f, %.2f), found (%.2f, %.2f)",
        seed, px, py, q[0], q[1], c[0], c[1]);
    // measured: under 0.07 px over 300 query-recipe seeds; bilinear and area resampling keep centroids
    assertTrue(Math.hypot(c[0] - q[0], c[1] - q[1]) < 0.2, where);
    int pixel = v.image().getRGB((int) Math.floor(q[0]), (int) Math.floor(q[1]));
    assertTrue(redness(pixel) > 60, where + String.format(", pixel there #%06x", pixel & 0xFFFFFF));
    assertTrue(v.visible(px + 0.5, py + 0.5, W, H), where);
  }

  private static int redness(int p) {
    return (p >> 16 & 255) - ((p >> 8 & 255) + (p & 255)) / 2;
  }

  private static double[] redCentroid(BufferedImage img) {
    double sw = 0, sx = 0, sy = 0;
    for (int y = 0; y < img.getHeight(); y++) {
      for (int x = 0; x < img.getWidth(); x++) {
        double w = Math.max(0, redness(img.getRGB(x, y)) - 10);
        sw += w;
        sx += w * (x + 0.5);
        sy += w * (y + 0.5);
      }
    }
    assertTrue(sw > 0, "no marker in the view");
    return new double[] {sx / sw, sy / sw};
  }

  @Test
  void aFixedRotationIsReportedExactly() {
    Views.Options o = Views.Options.builder().rotation(30, 30).fill(0x00FF00).build();
    Views.View v = Views.generate(background(), o, 5);
    assertEquals(Homography.rotation(Math.toRadians(30), W / 2.0, H / 2.0), v.transform());
    assertEquals(30, v.applied().rotationDeg());
    assertEquals(W, v.image().getWidth());
    assertEquals(0x00FF00, v.image().getRGB(0, 0) & 0xFFFFFF, "corners turned out of the source get the fill");
    assertFalse(v.visible(0.5, 0.5, W, H), "the source's corner is turned out of the view");
  }

  @Test
  void aFixedScaleAndCropAreReportedExactly() {
    Views.Options o = Views.Options.builder().crop(0.5, 0.5).scale(0.25, 0.25).build();
    Views.View v = Views.generate(background(), o, 11);
    Rectangle crop = v.applied().crop();
    assertEquals(new Rectangle(crop.x, crop.y, 160, 120), crop);
    assertEquals(40, v.image().getWidth());
    assertEquals(30, v.image().getHeight());
    Homography want = Homography.translation(-crop.x, -crop.y).then(Homography.scaling(0.25, 0.25));
    double[] a = want.map(crop.x + 17.25, crop.y + 3.5);
    double[] b = v.transform().map(crop.x + 17.25, crop.y + 3.5);
    assertArrayEquals(a, b, 1e-12);
  }

  @Test
  void withEverythingOffTheViewIsTheSource() {
    BufferedImage src = background();
    Views.View v = Views.generate(src, Views.Options.builder().build(), 3);
    assertEquals(Homography.identity(), v.transform());
    assertArrayEquals(Images.pixels(src), Images.pixels(v.image()));
    assertNull(v.occluder());
  }

  @Test
  void sameSeedSameBytesOtherSeedOtherView() {
    BufferedImage src = photoLike();
    for (long seed : new long[] {0, 7, -3, Long.MAX_VALUE}) {
      assertArrayEquals(Images.pixels(Views.query(src, seed).image()),
          Images.pixels(Views.query(src, seed).image()), "query seed " + seed);
      assertArrayEquals(Images.pixels(Views.training(src, seed).image()),
          Images.pixels(Views.training(src, seed).image()), "training seed " + seed);
    }
    assertFalse(java.util.Arrays.equals(Images.pixels(Views.query(src, 1).image()),
        Images.pixels(Views.query(src, 2).image())));
  }

  @Test
  void theSourceIsNotModified() {
    BufferedImage src = photoLike();
    int[] before = Images.pixels(src).clone();
    Views.training(src, 4);
    Views.query(src, 4);
    assertArrayEquals(before, Images.pixels(src));
  }

  @Test
  void switchingAComponentOffLeavesTheOthersDrawsAlone() {
    BufferedImage src = photoLike();
    Views.View full = Views.query(src, 21);
    Views.View geometryOnly = Views.generate(src,
        Views.Options.query().toBuilder().off(Component.COLOR).off(Component.BLUR).off(Component.OCCLUSION).build(), 21);
    assertEquals(full.transform(), geometryOnly.transform());
    Views.View noCrop = Views.generate(src, Views.Options.query().toBuilder().off(Component.CROP).build(), 21);
    assertEquals(full.applied().rotationDeg(), noCrop.applied().rotationDeg());
    assertEquals(full.applied().blurSigma(), noCrop.applied().blurSigma());
  }

  @Test
  void colourChangesLeaveGeometryAndGreyAlone() {
    Views.Options o = Views.Options.builder().color(0.2, 0.3, 0.4, 15).build();
    for (long seed = 0; seed < 5; seed++) {
      Views.View v = Views.generate(background(), o, seed);
      assertEquals(Homography.identity(), v.transform());
      Views.Applied a = v.applied();
      assertTrue(Math.abs(a.brightness() - 1) <= 0.2 && Math.abs(a.contrast() - 1) <= 0.3
          && Math.abs(a.saturation() - 1) <= 0.4 && Math.abs(a.hueDeg()) <= 15, a.toString());
      for (int p : Images.pixels(v.image())) {
        int r = p >> 16 & 255, g = p >> 8 & 255, b = p & 255;
        assertTrue(Math.abs(r - g) <= 1 && Math.abs(g - b) <= 1, "grey stays grey, got " + Integer.toHexString(p));
      }
    }
    Views.View v = Views.generate(photoLike(), o, 1);
    assertFalse(java.util.Arrays.equals(Images.pixels(photoLike()), Images.pixels(v.image())));
  }

  @Test
  void theOccluderIsOneColourInsideTheViewAndHidesWhatIsUnderIt() {
    Views.Options o = Views.Options.builder().occlusion(0.1, 0.2).build();
    BufferedImage src = photoLike();
    for (long seed = 0; seed < 10; seed++) {
      Views.View v = Views.generate(src, o, seed);
      Rectangle r = v.occluder();
      assertNotNull(r);
      assertTrue(new Rectangle(0, 0, W, H).contains(r), r.toString());
      double area = (double) r.width * r.height / (W * H);
      assertTrue(area > 0.09 && area < 0.21, "area " + area);
      int color = v.image().getRGB(r.x, r.y);
      for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
          int want = r.contains(x, y) ? color : src.getRGB(x, y);
          assertEquals(want, v.image().getRGB(x, y), "seed " + seed + " at " + x + "," + y);
        }
      }
      assertFalse(v.visible(r.x + 0.5, r.y + 0.5, W, H));
    }
  }

  @Test
  void queryViewsHaveTheRecipesSize() {
    BufferedImage src = photoLike();
    for (long seed = 0; seed < 30; seed++) {
      Views.View v = Views.query(src, seed);
      int w = v.image().getWidth();
      int h = v.image().getHeight();
      assertTrue(w >= Math.floor(W * 0.5 * 0.3) && w <= W && h >= Math.floor(H * 0.5 * 0.3) && h <= H,
          "seed " + seed + ": " + w + "x" + h);
      assertEquals(BufferedImage.TYPE_INT_RGB, v.image().getType());
      assertTrue(Math.abs(v.applied().rotationDeg()) <= 30);
    }
  }

  /**
   * The hard recipe's draws stay inside its documented ranges and reach across them (200 seeds):
   * crop 25-50% of each side, no scaling, rotation +-45 deg, corners moved by up to 20% of the
   * shorter side, colour, blur 0-2 px, an occluder of 20-40% of the view.
   */
  @Test
  void hardViewsHonourTheirRanges() {
    BufferedImage src = photoLike();
    double cropLo = 1, cropHi = 0, rotLo = 0, rotHi = 0, shiftHi = 0, occLo = 1, occHi = 0;
    for (long seed = 0; seed < 200; seed++) {
      Views.View v = Views.hard(src, seed);
      Views.Applied a = v.applied();
      String at = "seed " + seed + ": " + a;
      double fw = a.crop().width / (double) W;
      double fh = a.crop().height / (double) H;
      for (double f : new double[] {fw, fh}) {
        assertTrue(f >= 0.25 - 0.5 / H && f <= 0.5 + 0.5 / H, at);
        cropLo = Math.min(cropLo, f);
        cropHi = Math.max(cropHi, f);
      }
      assertTrue(new Rectangle(0, 0, W, H).contains(a.crop()), at);
      assertEquals(1.0, a.scaleX(), at);
      assertEquals(1.0, a.scaleY(), at);
      assertEquals(a.crop().width, v.image().getWidth(), at);
      assertEquals(a.crop().height, v.image().getHeight(), at);
      assertTrue(Math.abs(a.rotationDeg()) <= 45, at);
      rotLo = Math.min(rotLo, a.rotationDeg());
      rotHi = Math.max(rotHi, a.rotationDeg());
      double m = 0.2 * Math.min(v.image().getWidth(), v.image().getHeight());
      for (double d : a.cornerShift()) {
        assertTrue(Math.abs(d) <= m, at);
        shiftHi = Math.max(shiftHi, Math.abs(d) / m);
      }
      assertTrue(Math.abs(a.brightness() - 1) <= 0.3 && Math.abs(a.contrast() - 1) <= 0.4
          && Math.abs(a.saturation() - 1) <= 0.6 && Math.abs(a.hueDeg()) <= 30, at);
      assertTrue(a.blurSigma() >= 0 && a.blurSigma() <= 2, at);
      Rectangle r = v.occluder();
      assertNotNull(r, at);
      double area = (double) r.width * r.height / (v.image().getWidth() * v.image().getHeight());
      // the occluder's sides are rounded to whole pixels on views of 80-160 px
      assertTrue(area > 0.18 && area < 0.42, at + ", occluded " + area);
      occLo = Math.min(occLo, area);
      occHi = Math.max(occHi, area);
    }
    // the draws cover the ranges, not a narrower part of them
    assertTrue(cropLo < 0.27 && cropHi > 0.48, cropLo + " - " + cropHi);
    assertTrue(rotLo < -40 && rotHi > 40, rotLo + " .. " + rotHi);
    assertTrue(shiftHi > 0.95, "largest corner shift " + shiftHi);
    assertTrue(occLo < 0.23 && occHi > 0.37, occLo + " - " + occHi);
  }

  /**
   * With keepInside the whole turned frame comes from inside the source: the four view corners
   * map back into it, and a white source leaves no pixel black (the fill). Without it, the same
   * draws leave fill in many views, so the check can fail.
   */
  @Test
  void keptInsideTheTurnedFrameNeedsNoFill() {
    BufferedImage white = Images.newRgb(W, H);
    java.util.Arrays.fill(Images.pixels(white), 0xFFFFFF);
    Views.Options inside = Views.Options.hard().toBuilder()
        .off(Component.COLOR).off(Component.BLUR).off(Component.OCCLUSION).build();
    Views.Options free = Views.Options.builder().crop(0.25, 0.5).rotation(-45, 45).perspective(0.2).build();
    assertTrue(inside.keepInside() && !free.keepInside());
    int fitted = 0;
    int freeWithFill = 0;
    for (long seed = 0; seed < 200; seed++) {
      Views.View v = Views.generate(white, inside, seed);
      Homography back = v.transform().inverse();
      int vw = v.image().getWidth();
      int vh = v.image().getHeight();
      boolean cornersInside = true;
      for (double[] c : new double[][] {{0, 0}, {vw, 0}, {vw, vh}, {0, vh}}) {
        double[] u = back.map(c[0], c[1]);
        cornersInside &= u[0] >= -1e-6 && u[0] <= W + 1e-6 && u[1] >= -1e-6 && u[1] <= H + 1e-6;
      }
      assertTrue(new Rectangle(0, 0, W, H).contains(v.applied().crop()), "seed " + seed);
      if (cornersInside) {
        fitted++;
        assertEquals(0, blackPixels(v.image()), "seed " + seed + ": " + v.applied());
      }
      if (blackPixels(Views.generate(white, free, seed).image()) > 0) {
        freeWithFill++;
      }
    }
    // a 4:3 source holds nearly every frame of the hard recipe
    assertTrue(fitted >= 190, fitted + " of 200 fitted");
    assertTrue(freeWithFill >= 40, freeWithFill + " of 200 free views with fill");
  }

  private static int blackPixels(BufferedImage img) {
    int n = 0;
    for (int p : Images.pixels(img)) {
      n += p == 0 ? 1 : 0;
    }
    return n;
  }

  /**
   * An occluder photo replaces the one colour and nothing else: same draws, same transform and
   * rectangle; outside it the pixels are the one-colour view's; inside, a one-colour photo gives
   * its colour, and a textured photo gives texture.
   */
  @Test
  void anOccluderPhotoFillsTheSameRectangle() {
    BufferedImage src = photoLike();
    BufferedImage teal = Images.newRgb(90, 60);
    java.util.Arrays.fill(Images.pixels(teal), 0x208080);
    for (long seed = 0; seed < 20; seed++) {
      Views.View plain = Views.hard(src, seed);
      Views.View photo = Views.hard(src, seed, teal);
      Views.View textured = Views.hard(src, seed, photoLike());
      assertEquals(plain.transform(), photo.transform());
      Rectangle r = plain.occluder();
      assertEquals(r, photo.occluder());
      int[] a = Images.pixels(plain.image());
      int[] b = Images.pixels(photo.image());
      int[] t = Images.pixels(textured.image());
      int w = plain.image().getWidth();
      java.util.Set<Integer> inside = new java.util.HashSet<>();
      for (int i = 0; i < a.length; i++) {
        if (r.contains(i % w, i / w)) {
          assertEquals(0x208080, b[i], "seed " + seed);
          inside.add(t[i]);
        } else {
          assertEquals(a[i], b[i], "seed " + seed);
          assertEquals(a[i], t[i], "seed " + seed);
        }
      }
      assertTrue(inside.size() > 20, "seed " + seed + ": " + inside.size() + " colours under a photo occluder");
    }
  }

  /** One hard view drawn in full (golden values): the recipe, and so the hard benchmark, stays put. */
  @Test
  void aHardViewIsTheSameEveryTime() {
    Views.View v = Views.hard(photoLike(), 7);
    Views.Applied a = v.applied();
    assertEquals(GOLDEN_CROP, a.crop());
    assertEquals(GOLDEN_ROTATION, a.rotationDeg(), 1e-9);
    assertEquals(GOLDEN_OCCLUDER, v.occluder());
    assertEquals(Views.generate(photoLike(), Views.Options.hard(), 7).transform(), v.transform());
  }

  private static final Rectangle GOLDEN_CROP = new Rectangle(15, 72, 159, 90); // placed inside since keepInside
  private static final double GOLDEN_ROTATION = -33.680859916955704;
  private static final Rectangle GOLDEN_OCCLUDER = new Rectangle(73, 0, 70, 68);

  @Test
  void anyImageTypeIsAccepted() {
    BufferedImage grey = new BufferedImage(64, 48, BufferedImage.TYPE_BYTE_GRAY);
    BufferedImage bgr = new BufferedImage(64, 48, BufferedImage.TYPE_3BYTE_BGR);
    assertEquals(BufferedImage.TYPE_INT_RGB, Views.query(grey, 1).image().getType());
    assertEquals(BufferedImage.TYPE_INT_RGB, Views.training(bgr, 1).image().getType());
    assertThrows(IllegalArgumentException.class, () -> Views.query(new BufferedImage(1, 5, BufferedImage.TYPE_INT_RGB), 1));
  }

  @Test
  void rangesAreValidated() {
    Views.Builder b = Views.Options.builder();
    assertThrows(IllegalArgumentException.class, () -> b.crop(0, 1));
    assertThrows(IllegalArgumentException.class, () -> b.crop(0.5, 1.1));
    assertThrows(IllegalArgumentException.class, () -> b.scale(0.5, 0.3));
    assertThrows(IllegalArgumentException.class, () -> b.scale(Double.NaN, 1));
    assertThrows(IllegalArgumentException.class, () -> b.rotation(-200, 0));
    assertThrows(IllegalArgumentException.class, () -> b.perspective(0.3));
    assertThrows(IllegalArgumentException.class, () -> b.color(1.0, 0.1, 0.1, 10));
    assertThrows(IllegalArgumentException.class, () -> b.blur(-1, 1));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.occlusion(0.5, 0.95));
    assertTrue(e.getMessage().contains("occlusion"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Views.warp(background(), Homography.identity(), 0, 5, 0));
  }

  @Test
  void warpWithAnIntegerShiftMovesPixelsExactly() {
    BufferedImage src = photoLike();
    BufferedImage out = Views.warp(src, Homography.translation(5, -3), W, H, 0x123456);
    assertEquals(src.getRGB(10, 10), out.getRGB(15, 7));
    assertEquals(0x123456, out.getRGB(2, 100) & 0xFFFFFF);
  }

  /** Smooth colour gradients plus a few edges: something for colour and blur to change. */
  private static BufferedImage photoLike() {
    BufferedImage img = Images.newRgb(W, H);
    int[] px = Images.pixels(img);
    for (int y = 0; y < H; y++) {
      for (int x = 0; x < W; x++) {
        int r = (x * 255) / W;
        int g = (y * 255) / H;
        int b = ((x / 20 + y / 20) % 2) * 120 + 60;
        px[y * W + x] = r << 16 | g << 8 | b;
      }
    }
    return img;
  }
}
