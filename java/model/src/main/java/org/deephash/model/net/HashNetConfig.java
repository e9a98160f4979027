package org.deephash.model.net;

import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.deephash.model.pretrained.MobileNetV2;

/**
 * The shape of a DLBHC hashing network: input images H x W x C, a trunk that gives the feature
 * layer F7, the latent layer H of {@code bits} sigmoid units, and the softmax classifier F8 over
 * {@code classNames}. Stored with every model as {@code model.properties}.
 *
 * <p>Two trunks ({@code backbone}):
 * <ul>
 *   <li>{@value #SCRATCH} (the default, trained from scratch): two conv/pool blocks ({@code conv1},
 *       {@code conv2} filters) and a fully connected F7 (ReLU) of {@code featureDim};
 *   <li>{@value #MOBILENET_V2}: MobileNetV2 through block 10, started from ImageNet weights
 *       ({@link MobileNetV2}), average-pooled and L2-normalised: F7 is
 *       the pooled 96-d descriptor ({@code featureDim} 96, {@code conv1} = {@code conv2} = 0), for
 *       RGB photos ({@code channels} 3).
 * </ul>
 * A {@code model.properties} without a {@code backbone} key is a {@value #SCRATCH} network.
 *
 * <p>{@code pooling} (mobilenet_v2 only): {@value #MEAN} averages the cells; {@value #ATTENTION}
 * weights the L2-normalised cells by a DELF attention head (1x1 conv 512 + ReLU, 1x1 conv 1,
 * softplus) as DELF's global descriptor does, its weights handed over from a DELF model. Without a
 * {@code pooling} key, {@value #MEAN}.
 *
 * <p>{@code batchNorm} ({@value #SCRATCH} only): each convolution is batch-normalised before its
 * ReLU (batch statistics while training, their running means at inference). Without a {@code
 * batchNorm} key, off.
 */
public record HashNetConfig(int height, int width, int channels, int bits, int featureDim, int conv1, int conv2,
    List<String> classNames, String backbone, String pooling, boolean batchNorm) {
  public static final int MIN_BITS = 12;
  public static final int MAX_BITS = 256;
  public static final String SCRATCH = "scratch";
  public static final String MOBILENET_V2 = "mobilenet_v2";
  public static final String MEAN = "mean";
  public static final String ATTENTION = "attention";
  /** Hidden width of the attention head ({@value #ATTENTION} pooling), DELF's. */
  public static final int ATTENTION_HIDDEN = 512;
  /** The MobileNetV2 block whose pooled output is F7 (the last block with ImageNet weights). */
  public static final int MOBILENET_BLOCK = MobileNetV2.LAST_IMAGENET_BLOCK;

  public HashNetConfig {
    if (height < 8 || width < 8 || channels < 1 || channels > 4) {
      throw new IllegalArgumentException("input must be at least 8x8 with 1 to 4 channels (passed " + height + "x"
          + width + "x" + channels + ")");
    }
    if (backbone == null) {
      backbone = SCRATCH;
    }
    if (pooling == null) {
      pooling = MEAN;
    }
    if (!pooling.equals(MEAN) && !(pooling.equals(ATTENTION) && backbone.equals(MOBILENET_V2))) {
      throw new IllegalArgumentException("pooling is " + MEAN + (backbone.equals(MOBILENET_V2) ? " or " + ATTENTION
          : " for the " + backbone + " backbone") + " (passed '" + pooling + "')");
    }
    if (backbone.equals(MOBILENET_V2)) {
      int d = MobileNetV2.channels(MOBILENET_BLOCK);
      if (channels != 3 || featureDim != d || conv1 != 0 || conv2 != 0) {
        throw new IllegalArgumentException("the mobilenet_v2 backbone takes RGB images and has fixed widths (F7 " + d
            + ", conv1 = conv2 = 0); passed " + channels + " channels, F7 " + featureDim + ", conv1 " + conv1
            + ", conv2 " + conv2);
      }
      if (height < 32 || width < 32) {
        throw new IllegalArgumentException("the mobilenet_v2 backbone needs images of at least 32x32 (passed "
            + height + "x" + width + ")");
      }
    } else if (!backbone.equals(SCRATCH)) {
      throw new IllegalArgumentException("unknown backbone '" + backbone + "': use " + SCRATCH + " or "
          + MOBILENET_V2);
    }
    if (bits < MIN_BITS || bits > MAX_BITS) {
      throw new IllegalArgumentException("bits must be in [" + MIN_BITS + ", " + MAX_BITS + "] (passed " + bits + ")");
    }
    if (backbone.equals(SCRATCH) && (featureDim < 8 || conv1 < 1 || conv2 < 1)) {
      throw new IllegalArgumentException("layer widths must be positive, F7 at least 8 (passed F7=" + featureDim
          + ", conv1=" + conv1 + ", conv2=" + conv2 + ")");
    }
    if (batchNorm && !backbone.equals(SCRATCH)) {
      throw new IllegalArgumentException("batch normalisation is for the " + SCRATCH + " backbone (the "
          + backbone + " backbone has its own)");
    }
    if (classNames == null || classNames.size() < 2) {
      throw new IllegalArgumentException("a classifier needs at least 2 classes");
    }
    classNames = List.copyOf(classNames);
  }

  /** A network with the given backbone and pooling, without batch normalisation. */
  public HashNetConfig(int height, int width, int channels, int bits, int featureDim, int conv1, int conv2,
      List<String> classNames, String backbone, String pooling) {
    this(height, width, channels, bits, featureDim, conv1, conv2, classNames, backbone, pooling, false);
  }

  /** A network trained from scratch ({@value #SCRATCH}). */
  public HashNetConfig(int height, int width, int channels, int bits, int featureDim, int conv1, int conv2,
      List<String> classNames) {
    this(height, width, channels, bits, featureDim, conv1, conv2, classNames, SCRATCH, MEAN);
  }

  /** A network with the given backbone and mean pooling. */
  public HashNetConfig(int height, int width, int channels, int bits, int featureDim, int conv1, int conv2,
      List<String> classNames, String backbone) {
    this(height, width, channels, bits, featureDim, conv1, conv2, classNames, backbone, MEAN);
  }

  /** The same network with another pooling ({@value #MEAN} or {@value #ATTENTION}). */
  public HashNetConfig withPooling(String pooling) {
    return new HashNetConfig(height, width, channels, bits, featureDim, conv1, conv2, classNames, backbone, pooling,
        batchNorm);
  }

  /** The same network with its convolutions batch-normalised or not ({@value #SCRATCH} backbone only). */
  public HashNetConfig withBatchNorm(boolean on) {
    return new HashNetConfig(height, width, channels, bits, featureDim, conv1, conv2, classNames, backbone, pooling, on);
  }

  /** MobileNetV2 (ImageNet weights) on {@code side} x {@code side} RGB images, pooled block 10 as F7. */
  public static HashNetConfig mobileNetV2(int height, int width, int bits, List<String> classNames) {
    return new HashNetConfig(height, width, 3, bits,
        MobileNetV2.channels(MOBILENET_BLOCK), 0, 0, classNames, MOBILENET_V2);
  }

  /** Whether the trunk is the pretrained MobileNetV2. */
  public boolean pretrainedBackbone() {
    return backbone.equals(MOBILENET_V2);
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
    return new HashNetConfig(height, width, channels, bits, featureDim, conv1, conv2, classNames, backbone, pooling,
        batchNorm);
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
    p.setProperty("backbone", backbone);
    p.setProperty("pooling", pooling);
    p.setProperty("batchNorm", Boolean.toString(batchNorm));
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
        intProp(p, "featureDim"), intProp(p, "conv1"), intProp(p, "conv2"), names,
        p.getProperty("backbone", SCRATCH).trim(), p.getProperty("pooling", MEAN).trim(),
        Boolean.parseBoolean(p.getProperty("batchNorm", "false").trim()));
  }

  private static int intProp(Properties p, String key) {
    String v = p.getProperty(key);
    if (v == null) {
      throw new IllegalArgumentException("model.properties lacks '" + key + "'");
    }
    return Integer.parseInt(v.trim());
  }
}
