package org.deephash.model.net;

import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * The shape of a DLBHC hashing network: input images H x W x C, two conv/pool blocks, a
 * fully connected feature layer F7 (ReLU), the latent layer H of {@code bits} sigmoid units, and
 * the softmax classifier F8 over {@code classNames}. Stored with every model as {@code
 * model.properties}.
 */
public record HashNetConfig(
    int height, int width, int channels, int bits, int featureDim, int conv1, int conv2, List<String> classNames) {
  public static final int MIN_BITS = 12;
  public static final int MAX_BITS = 256;

  public HashNetConfig {
    if (height < 8 || width < 8 || channels < 1 || channels > 4) {
      throw new IllegalArgumentException("input must be at least 8x8 with 1 to 4 channels (passed " + height + "x"
          + width + "x" + channels + ")");
    }
    if (bits < MIN_BITS || bits > MAX_BITS) {
      throw new IllegalArgumentException("bits must be in [" + MIN_BITS + ", " + MAX_BITS + "] (passed " + bits + ")");
    }
    if (featureDim < 8 || conv1 < 1 || conv2 < 1) {
      throw new IllegalArgumentException("layer widths must be positive, F7 at least 8 (passed F7=" + featureDim
          + ", conv1=" + conv1 + ", conv2=" + conv2 + ")");
    }
    if (classNames == null || classNames.size() < 2) {
      throw new IllegalArgumentException("a classifier needs at least 2 classes");
    }
    classNames = List.copyOf(classNames);
  }

  /** Default widths of the convolutions and of F7 (see {@link #of}). */
  public static final int DEFAULT_CONV1 = 32;
  public static final int DEFAULT_CONV2 = 32;
  public static final int DEFAULT_F7 = 512;

  /**
   * The default network: conv 5x5x32, conv 5x5x32, F7 of 512. A second convolution of 64 filters
   * is the textbook choice, but on a 2-core CPU it doubles the epoch time for +0.2% accuracy on
   * Fashion-MNIST (docs/MODEL.md); {@link #withWidths} sets other widths.
   */
  public static HashNetConfig of(int height, int width, int channels, int bits, List<String> classNames) {
    return new HashNetConfig(height, width, channels, bits, DEFAULT_F7, DEFAULT_CONV1, DEFAULT_CONV2, classNames);
  }

  /** The same network with other layer widths. */
  public HashNetConfig withWidths(int conv1, int conv2, int featureDim) {
    return new HashNetConfig(height, width, channels, bits, featureDim, conv1, conv2, classNames);
  }

  public int classes() {
    return classNames.size();
  }

  /** Bytes of a packed code: the engine stores whole bytes, so B is padded with zero bits to a multiple of 8. */
  public int codeBytes() {
    return (bits + 7) / 8;
  }

  /** Flattened size after the two 2x2 max pools (SAME padding). */
  int flatDim() {
    int h = (height + 1) / 2;
    h = (h + 1) / 2;
    int w = (width + 1) / 2;
    w = (w + 1) / 2;
    return h * w * conv2;
  }

  public Properties toProperties() {
    Properties p = new Properties();
    p.setProperty("height", Integer.toString(height));
    p.setProperty("width", Integer.toString(width));
    p.setProperty("channels", Integer.toString(channels));
    p.setProperty("bits", Integer.toString(bits));
    p.setProperty("featureDim", Integer.toString(featureDim));
    p.setProperty("conv1", Integer.toString(conv1));
    p.setProperty("conv2", Integer.toString(conv2));
    p.setProperty("classes", Integer.toString(classNames.size()));
    for (int i = 0; i < classNames.size(); i++) {
      p.setProperty("class." + i, classNames.get(i));
    }
    return p;
  }

  public static HashNetConfig fromProperties(Properties p) {
    int classes = intProp(p, "classes");
    List<String> names = new ArrayList<>(classes);
    for (int i = 0; i < classes; i++) {
      names.add(p.getProperty("class." + i, Integer.toString(i)));
    }
    return new HashNetConfig(intProp(p, "height"), intProp(p, "width"), intProp(p, "channels"), intProp(p, "bits"),
        intProp(p, "featureDim"), intProp(p, "conv1"), intProp(p, "conv2"), names);
  }

  private static int intProp(Properties p, String key) {
    String v = p.getProperty(key);
    if (v == null) {
      throw new IllegalArgumentException("model.properties lacks '" + key + "'");
    }
    return Integer.parseInt(v.trim());
  }
}
