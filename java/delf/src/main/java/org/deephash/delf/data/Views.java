package org.deephash.delf.data;

import java.awt.Rectangle;
import java.awt.image.BufferedImage;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.deephash.delf.geometry.Homography;

/**
 * Seeded generator of augmented views of a photo, each with the exact transform from source to
 * view coordinates, so that tests and geometric verification can check correspondences.
 *
 * <p>A view is made in this order: a random crop (an integer window, a fraction of each side),
 * scaling (area averaging when shrinking), rotation about the view's centre, a mild perspective
 * warp (each corner moved by up to a fraction of the shorter side), then colour change
 * (brightness, contrast, saturation, hue), Gaussian blur, and an occluding patch: one random colour,
 * or a window of another photo when {@link #generate(BufferedImage, Options, long, BufferedImage)}
 * is given one. Only the first four move pixels; {@link View#transform()} is their composition.
 * The crop sets the view's frame; rotation and perspective then bring in source content from
 * around the crop as a turned camera would, and only view pixels that no source pixel reaches get
 * {@link Options#fill()}. With {@link Builder#keepInside()} the crop is placed where the whole
 * turned frame falls inside the source, so no pixel needs the fill where such a place exists.
 *
 * <p>Every component can be switched off and has its own random stream split from the seed in a
 * fixed order, so switching one component off leaves the others' draws unchanged. Same image,
 * options and seed give the same view, bit for bit.
 *
 * <pre>{@code
 * Views.View v = Views.query(photo, 42L);
 * double[] q = v.transform().map(120.5, 80.5);   // where source pixel (120, 80) appears
 * boolean seen = v.visible(120.5, 80.5);         // inside the view and not occluded
 * }</pre>
 */
public final class Views {

  /** The parts of an augmentation, in the order they are applied. */
  public enum Component {
    CROP, SCALE, ROTATION, PERSPECTIVE, COLOR, BLUR, OCCLUSION
  }

  /**
   * The parameters a view was made with (neutral values for components that were off).
   *
   * @param crop window of the source that was kept
   * @param scaleX horizontal scale from crop to view (exact: view width / crop width)
   * @param scaleY vertical scale
   * @param rotationDeg rotation about the view centre, degrees (clockwise on screen)
   * @param cornerShift perspective: how far each view corner moved, {@code dx0, dy0, ..., dx3,
   *     dy3} for top-left, top-right, bottom-right, bottom-left, in pixels
   * @param brightness brightness factor
   * @param contrast contrast factor
   * @param saturation saturation factor
   * @param hueDeg hue rotation, degrees
   * @param blurSigma Gaussian sigma in pixels
   */
  public record Applied(
      Rectangle crop, double scaleX, double scaleY, double rotationDeg, double[] cornerShift,
      double brightness, double contrast, double saturation, double hueDeg, double blurSigma) {}

  /**
   * One augmented view.
   *
   * @param image the view, TYPE_INT_RGB
   * @param transform source coordinates to view coordinates (pixel centres at +0.5)
   * @param occluder the occluding patch in view pixels, or null
   * @param applied the sampled parameters
   */
  public record View(BufferedImage image, Homography transform, Rectangle occluder, Applied applied) {

    /**
     * Whether the source point {@code (x, y)} shows in this view: it maps inside the view, it is
     * not under the occluder, and it is inside the source image (width, height as given).
     */
    public boolean visible(double x, double y, int sourceWidth, int sourceHeight) {
      if (!(x >= 0 && x <= sourceWidth && y >= 0 && y <= sourceHeight)) {
        return false;
      }
      return visibleInView(x, y);
    }

    /** As {@link #visible(double, double, int, int)} without the source-bounds check. */
    public boolean visible(double x, double y) {
      return visibleInView(x, y);
    }

    private boolean visibleInView(double x, double y) {
      double[] q = transform.map(x, y);
      if (!(q[0] >= 0 && q[0] < image.getWidth() && q[1] >= 0 && q[1] < image.getHeight())) {
        return false;
      }
      return occluder == null || !occluder.contains(q[0], q[1]);
    }
  }

  /**
   * What to apply, immutable. Ranges are sampled uniformly; a component is on once its range is
   * set and off after {@link Builder#off(Component)}.
   */
  public static final class Options {
    private final Set<Component> on;
    private final double cropMin, cropMax;
    private final double scaleMin, scaleMax;
    private final double rotMin, rotMax;
    private final double perspective;
    private final double brightness, contrast, saturation, hueDeg;
    private final double blurMin, blurMax;
    private final double occMin, occMax;
    private final int fill;
    private final boolean keepInside;

    private Options(Builder b) {
      on = EnumSet.copyOf(b.on.isEmpty() ? EnumSet.noneOf(Component.class) : b.on);
      cropMin = b.cropMin;
      cropMax = b.cropMax;
      scaleMin = b.scaleMin;
      scaleMax = b.scaleMax;
      rotMin = b.rotMin;
      rotMax = b.rotMax;
      perspective = b.perspective;
      brightness = b.brightness;
      contrast = b.contrast;
      saturation = b.saturation;
      hueDeg = b.hueDeg;
      blurMin = b.blurMin;
      blurMax = b.blurMax;
      occMin = b.occMin;
      occMax = b.occMax;
      fill = b.fill;
      keepInside = b.keepInside;
    }

    /** Everything off: the view is the source itself with an identity transform. */
    public static Builder builder() {
      return new Builder();
    }

    /**
     * The benchmark's query recipe: crop 50-100% of each side, scale 0.3-1, rotation within
     * &plusmn;30&deg;, perspective corners moved by up to 8% of the shorter side, brightness
     * &plusmn;20%, contrast &plusmn;30%, saturation &plusmn;40%, hue &plusmn;15&deg;, blur sigma
     * 0-1.5 px, an occluder covering 5-20% of the view; fill black.
     */
    public static Options query() {
      return builder()
          .crop(0.5, 1.0)
          .scale(0.3, 1.0)
          .rotation(-30, 30)
          .perspective(0.08)
          .color(0.2, 0.3, 0.4, 15)
          .blur(0, 1.5)
          .occlusion(0.05, 0.2)
          .build();
    }

    /**
     * The hard benchmark's query recipe ({@code delf eval --benchmark hard}): a small part of the
     * photo seen from a turned camera. Crop 25-50% of each side (so 6-25% of the photo's area
     * overlaps the view), no extra scaling (the extractor brings the view's longer side to its
     * base side, so the crop alone is a 2-4x zoom), rotation within &plusmn;45&deg;, perspective
     * corners moved by up to 20% of the shorter side, brightness &plusmn;30%, contrast &plusmn;40%,
     * saturation &plusmn;60%, hue &plusmn;30&deg;, blur sigma 0-2 px, an occluder covering 20-40%
     * of the view; the crop placed so that the turned frame stays inside the photo where it fits
     * ({@link Builder#keepInside()}), so that views carry no fill wedges a camera would not see.
     */
    public static Options hard() {
      return builder()
          .crop(0.25, 0.5)
          .rotation(-45, 45)
          .perspective(0.2)
          .color(0.3, 0.4, 0.6, 30)
          .blur(0, 2.0)
          .occlusion(0.2, 0.4)
          .keepInside()
          .build();
    }

    /**
     * Strong augmentation for training: crop 30-100% of each side, scale 0.3-1, rotation within
     * &plusmn;30&deg;, perspective up to 12%, brightness &plusmn;30%, contrast &plusmn;40%,
     * saturation &plusmn;60%, hue &plusmn;30&deg;, blur sigma 0-2 px, occluder 0-25% of the view.
     */
    public static Options training() {
      return builder()
          .crop(0.3, 1.0)
          .scale(0.3, 1.0)
          .rotation(-30, 30)
          .perspective(0.12)
          .color(0.3, 0.4, 0.6, 30)
          .blur(0, 2.0)
          .occlusion(0.0, 0.25)
          .build();
    }

    public boolean enabled(Component c) {
      return on.contains(c);
    }

    /** Colour (0xRRGGBB) of view pixels that no source pixel reaches. */
    public int fill() {
      return fill;
    }

    /** Whether the crop is placed so that the turned frame stays inside the source. */
    public boolean keepInside() {
      return keepInside;
    }

    /** A builder starting from these options. */
    public Builder toBuilder() {
      Builder b = new Builder();
      b.on.addAll(on);
      b.cropMin = cropMin;
      b.cropMax = cropMax;
      b.scaleMin = scaleMin;
      b.scaleMax = scaleMax;
      b.rotMin = rotMin;
      b.rotMax = rotMax;
      b.perspective = perspective;
      b.brightness = brightness;
      b.contrast = contrast;
      b.saturation = saturation;
      b.hueDeg = hueDeg;
      b.blurMin = blurMin;
      b.blurMax = blurMax;
      b.occMin = occMin;
      b.occMax = occMax;
      b.fill = fill;
      b.keepInside = keepInside;
      return b;
    }

    @Override
    public String toString() {
      StringBuilder s = new StringBuilder("Views.Options[");
      for (Component c : on) {
        s.append(switch (c) {
          case CROP -> "crop " + cropMin + "-" + cropMax;
          case SCALE -> "scale " + scaleMin + "-" + scaleMax;
          case ROTATION -> "rotation " + rotMin + ".." + rotMax + " deg";
          case PERSPECTIVE -> "perspective " + perspective;
          case COLOR -> "color b" + brightness + " c" + contrast + " s" + saturation + " h" + hueDeg;
          case BLUR -> "blur sigma " + blurMin + "-" + blurMax;
          case OCCLUSION -> "occlusion " + occMin + "-" + occMax;
        }).append("; ");
      }
      if (keepInside) {
        s.append("kept inside; ");
      }
      return s.append("fill #").append(String.format("%06x", fill)).append(']').toString();
    }
  }

  /** Builds {@link Options}; every setter checks its range and switches its component on. */
  public static final class Builder {
    private final Set<Component> on = EnumSet.noneOf(Component.class);
    private double cropMin = 1, cropMax = 1;
    private double scaleMin = 1, scaleMax = 1;
    private double rotMin, rotMax;
    private double perspective;
    private double brightness, contrast, saturation, hueDeg;
    private double blurMin, blurMax;
    private double occMin, occMax;
    private int fill;
    private boolean keepInside;

    private Builder() {}

    /** Keep a window of {@code [min, max]} of each side (drawn per side), placed uniformly. */
    public Builder crop(double min, double max) {
      range("crop", min, max, 0, 1, false);
      cropMin = min;
      cropMax = max;
      on.add(Component.CROP);
      return this;
    }

    /** Scale the crop by a factor in {@code [min, max]}, within (0, 4]. */
    public Builder scale(double min, double max) {
      range("scale", min, max, 0, 4, false);
      scaleMin = min;
      scaleMax = max;
      on.add(Component.SCALE);
      return this;
    }

    /** Rotate by an angle in {@code [minDeg, maxDeg]} about the view centre, within &plusmn;180. */
    public Builder rotation(double minDeg, double maxDeg) {
      range("rotation", minDeg, maxDeg, -180, 180, true);
      rotMin = minDeg;
      rotMax = maxDeg;
      on.add(Component.ROTATION);
      return this;
    }

    /**
     * Move each corner by up to {@code maxShift} of the shorter side in x and y; at most 0.25 so
     * that the warped quadrilateral stays convex.
     */
    public Builder perspective(double maxShift) {
      range("perspective", maxShift, maxShift, 0, 0.25, true);
      perspective = maxShift;
      on.add(Component.PERSPECTIVE);
      return this;
    }

    /**
     * Multiply brightness, contrast and saturation by factors within {@code 1 +- brightness},
     * {@code 1 +- contrast}, {@code 1 +- saturation} (each in [0, 1)), rotate hue within {@code
     * +- hueDeg} (at most 180).
     */
    public Builder color(double brightness, double contrast, double saturation, double hueDeg) {
      range("brightness", brightness, brightness, 0, 1, true);
      range("contrast", contrast, contrast, 0, 1, true);
      range("saturation", saturation, saturation, 0, 1, true);
      range("hue", hueDeg, hueDeg, 0, 180, true);
      if (brightness >= 1 || contrast >= 1) {
        throw new IllegalArgumentException(
            "brightness and contrast changes must be < 1 (a factor of 0 blanks the image), passed "
                + brightness + ", " + contrast);
      }
      this.brightness = brightness;
      this.contrast = contrast;
      this.saturation = saturation;
      this.hueDeg = hueDeg;
      on.add(Component.COLOR);
      return this;
    }

    /** Gaussian blur with sigma in {@code [minSigma, maxSigma]} pixels, at most 10. */
    public Builder blur(double minSigma, double maxSigma) {
      range("blur sigma", minSigma, maxSigma, 0, 10, true);
      blurMin = minSigma;
      blurMax = maxSigma;
      on.add(Component.BLUR);
      return this;
    }

    /** An occluding rectangle covering {@code [min, max]} of the view's area (max below 1). */
    public Builder occlusion(double minArea, double maxArea) {
      range("occlusion area", minArea, maxArea, 0, 0.9, true);
      occMin = minArea;
      occMax = maxArea;
      on.add(Component.OCCLUSION);
      return this;
    }

    /** Colour (0xRRGGBB) for view pixels that no source pixel reaches; default black. */
    public Builder fill(int rgb) {
      fill = rgb & 0xFFFFFF;
      return this;
    }

    /**
     * Place the crop where the view's whole frame, after rotation and perspective, falls inside
     * the source (uniformly among such places), instead of uniformly among all places of the crop
     * window; where no place fits, the crop is placed as without this and the fill shows.
     */
    public Builder keepInside() {
      keepInside = true;
      return this;
    }

    /** Switch a component off (its range is kept for a later {@link #on(Component)}). */
    public Builder off(Component c) {
      on.remove(c);
      return this;
    }

    /** Switch a component back on with the range set before. */
    public Builder on(Component c) {
      on.add(c);
      return this;
    }

    public Options build() {
      return new Options(this);
    }

    private static void range(String what, double min, double max, double lo, double hi, boolean loInclusive) {
      boolean okLo = loInclusive ? min >= lo : min > lo;
      if (!(okLo && max <= hi && min <= max) || Double.isNaN(min) || Double.isNaN(max)) {
        throw new IllegalArgumentException(
            what + " range must satisfy " + lo + (loInclusive ? " <= " : " < ") + "min <= max <= " + hi
                + ", passed [" + min + ", " + max + "]");
      }
    }
  }

  private Views() {}

  /** A view made with the benchmark's query recipe, {@link Options#query()}. */
  public static View query(BufferedImage source, long seed) {
    return generate(source, Options.query(), seed);
  }

  /** A view made with the hard benchmark's query recipe, {@link Options#hard()}. */
  public static View hard(BufferedImage source, long seed) {
    return generate(source, Options.hard(), seed);
  }

  /** As {@link #hard(BufferedImage, long)} with the occluder cut from {@code occluderPhoto} (null: one colour). */
  public static View hard(BufferedImage source, long seed, BufferedImage occluderPhoto) {
    return generate(source, Options.hard(), seed, occluderPhoto);
  }

  /** A view made with the strong training augmentation, {@link Options#training()}. */
  public static View training(BufferedImage source, long seed) {
    return generate(source, Options.training(), seed);
  }

  /**
   * A view of {@code source} made with {@code options}; the source is not modified.
   *
   * @throws IllegalArgumentException when the source is smaller than 2x2 pixels
   */
  public static View generate(BufferedImage source, Options o, long seed) {
    return generate(source, o, seed, null);
  }

  /**
   * As {@link #generate(BufferedImage, Options, long)}, with the occluder cut from {@code
   * occluderPhoto} instead of one colour: a window of 50-100% of the largest window of the
   * occluder's shape in that photo, placed uniformly and resized to the occluder (the occluder's
   * place and size draw as without it). An occluder of real content, different in every view,
   * hides the source as a passer-by would, and unlike a one-colour box it gives two views of
   * different photos no shared corners and edges to match. Null: one colour.
   */
  public static View generate(BufferedImage source, Options o, long seed, BufferedImage occluderPhoto) {
    int sw = source.getWidth();
    int sh = source.getHeight();
    if (sw < 2 || sh < 2) {
      throw new IllegalArgumentException("source must be at least 2x2 pixels, passed " + sw + "x" + sh);
    }
    Map<Component, SplittableRandom> rnd = new EnumMap<>(Component.class);
    SplittableRandom root = new SplittableRandom(seed);
    for (Component c : Component.values()) {
      rnd.put(c, root.split());
    }

    // Crop: an integer window, so the crop itself is an exact translation.
    int cw = sw;
    int ch = sh;
    int cx = 0;
    int cy = 0;
    if (o.enabled(Component.CROP)) {
      SplittableRandom r = rnd.get(Component.CROP);
      cw = Math.max(1, (int) Math.round(sw * uniform(r, o.cropMin, o.cropMax)));
      ch = Math.max(1, (int) Math.round(sh * uniform(r, o.cropMin, o.cropMax)));
      if (!o.keepInside) {
        cx = r.nextInt(sw - cw + 1);
        cy = r.nextInt(sh - ch + 1);
      }
    }

    // Scale: output size rounded, the exact per-axis factors reported.
    int w = cw;
    int h = ch;
    double s = 1;
    if (o.enabled(Component.SCALE)) {
      s = uniform(rnd.get(Component.SCALE), o.scaleMin, o.scaleMax);
      w = Math.max(1, (int) Math.round(cw * s));
      h = Math.max(1, (int) Math.round(ch * s));
    }
    Homography scale = Homography.scaling((double) w / cw, (double) h / ch);

    double angle = 0;
    if (o.enabled(Component.ROTATION)) {
      angle = uniform(rnd.get(Component.ROTATION), o.rotMin, o.rotMax);
    }
    Homography rest = Homography.rotation(Math.toRadians(angle), w / 2.0, h / 2.0);

    double[] shift = new double[8];
    if (o.enabled(Component.PERSPECTIVE)) {
      SplittableRandom r = rnd.get(Component.PERSPECTIVE);
      double m = o.perspective * Math.min(w, h);
      for (int i = 0; i < 8; i++) {
        shift[i] = uniform(r, -m, m);
      }
      double[] corners = {0, 0, w, 0, w, h, 0, h};
      double[] moved = new double[8];
      for (int i = 0; i < 8; i++) {
        moved[i] = corners[i] + shift[i];
      }
      rest = rest.then(Homography.fromCorrespondences(corners, moved));
    }

    if (o.enabled(Component.CROP) && o.keepInside) {
      // Where the view's corners come from, relative to the crop's corner: the crop may start
      // anywhere that keeps all four (so the whole convex frame) and the crop itself inside.
      Homography back = scale.then(rest).inverse();
      double[] lo = {0, 0};
      double[] hi = {sw - cw, sh - ch};
      for (double[] corner : new double[][] {{0, 0}, {w, 0}, {w, h}, {0, h}}) {
        double[] u = back.map(corner[0], corner[1]);
        lo[0] = Math.max(lo[0], -u[0]);
        lo[1] = Math.max(lo[1], -u[1]);
        hi[0] = Math.min(hi[0], sw - u[0]);
        hi[1] = Math.min(hi[1], sh - u[1]);
      }
      SplittableRandom r = rnd.get(Component.CROP);
      cx = place(r, lo[0], hi[0], sw - cw);
      cy = place(r, lo[1], hi[1], sh - ch);
    }
    Homography t = Homography.translation(-cx, -cy);
    Homography toView = t.then(scale).then(rest);
    BufferedImage img;
    if (w < cw || h < ch) {
      // A bilinear warp alone would alias when shrinking: shrink the whole source by area
      // averaging to about the view's scale first, then warp the rest of the way (about 1:1).
      // The reported transform stays the exact source-to-view map.
      int dw = Math.max(1, (int) Math.round(sw * (double) w / cw));
      int dh = Math.max(1, (int) Math.round(sh * (double) h / ch));
      BufferedImage small = Images.resizeArea(source, 0, 0, sw, sh, dw, dh);
      Homography pre = Homography.scaling((double) dw / sw, (double) dh / sh);
      img = Images.warp(small, pre.inverse().then(toView), w, h, o.fill);
    } else {
      img = Images.warp(source, toView, w, h, o.fill);
    }

    double bright = 1, contr = 1, sat = 1, hue = 0;
    if (o.enabled(Component.COLOR)) {
      SplittableRandom r = rnd.get(Component.COLOR);
      bright = 1 + uniform(r, -o.brightness, o.brightness);
      contr = 1 + uniform(r, -o.contrast, o.contrast);
      sat = 1 + uniform(r, -o.saturation, o.saturation);
      hue = uniform(r, -o.hueDeg, o.hueDeg);
      Images.color(img, bright, contr, sat, hue);
    }

    double sigma = 0;
    if (o.enabled(Component.BLUR)) {
      sigma = uniform(rnd.get(Component.BLUR), o.blurMin, o.blurMax);
      Images.gaussianBlur(img, sigma);
    }

    Rectangle occ = null;
    if (o.enabled(Component.OCCLUSION)) {
      SplittableRandom r = rnd.get(Component.OCCLUSION);
      double area = uniform(r, o.occMin, o.occMax) * w * h;
      double aspect = Math.exp(uniform(r, Math.log(0.5), Math.log(2)));
      int ow = Images.clamp((int) Math.round(Math.sqrt(area * aspect)), 1, w);
      int oh = Images.clamp((int) Math.round(area / ow), 1, h);
      int ox = r.nextInt(w - ow + 1);
      int oy = r.nextInt(h - oh + 1);
      int color = r.nextInt(1 << 24);
      if (area >= 1) {
        if (occluderPhoto == null) {
          Images.fillRect(img, ox, oy, ow, oh, color);
        } else {
          Images.paste(img, ox, oy, occluderWindow(occluderPhoto, ow, oh, r));
        }
        occ = new Rectangle(ox, oy, ow, oh);
      }
    }

    Applied applied = new Applied(
        new Rectangle(cx, cy, cw, ch), (double) w / cw, (double) h / ch, angle, shift,
        bright, contr, sat, hue, sigma);
    return new View(img, toView, occ, applied);
  }

  /**
   * An integer place in {@code [lo, hi]} drawn uniformly, or when that holds no integer, one in
   * {@code [0, max]} as an unconstrained crop would be placed.
   */
  private static int place(SplittableRandom r, double lo, double hi, int max) {
    int a = (int) Math.ceil(lo - 1e-9);
    int b = (int) Math.floor(hi + 1e-9);
    return a <= b ? a + r.nextInt(b - a + 1) : r.nextInt(max + 1);
  }

  /** A window of {@code photo} of shape {@code ow x oh}, 50-100% of the largest such, resized to it. */
  private static BufferedImage occluderWindow(BufferedImage photo, int ow, int oh, SplittableRandom r) {
    int pw = photo.getWidth();
    int ph = photo.getHeight();
    double fit = Math.min((double) pw / ow, (double) ph / oh) * uniform(r, 0.5, 1.0);
    int ww = Images.clamp((int) Math.round(ow * fit), 1, pw);
    int wh = Images.clamp((int) Math.round(oh * fit), 1, ph);
    int wx = r.nextInt(pw - ww + 1);
    int wy = r.nextInt(ph - wh + 1);
    if (ww >= ow && wh >= oh) {
      return Images.resizeArea(photo, wx, wy, ww, wh, ow, oh);
    }
    Homography m = Homography.translation(-wx, -wy).then(Homography.scaling((double) ow / ww, (double) oh / wh));
    return Images.warp(photo, m, ow, oh, 0);
  }

  /**
   * Renders {@code source} through {@code sourceToView} onto a {@code width x height} image
   * (bilinear sampling; no anti-aliasing, so keep the scale near or above 1), pixels that no
   * source pixel reaches set to {@code fill} (0xRRGGBB).
   */
  public static BufferedImage warp(BufferedImage source, Homography sourceToView, int width, int height, int fill) {
    if (width < 1 || height < 1) {
      throw new IllegalArgumentException("view size must be positive, passed " + width + "x" + height);
    }
    return Images.warp(source, sourceToView, width, height, fill & 0xFFFFFF);
  }

  private static double uniform(SplittableRandom r, double lo, double hi) {
    return lo == hi ? lo : lo + (hi - lo) * r.nextDouble();
  }
}
