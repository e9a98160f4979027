package org.deephash.delf.net;

import java.util.Properties;
import org.deephash.model.pretrained.MobileNetV2;

/**
 * The shape of the DELF network: a fully convolutional backbone whose feature map gives the dense
 * local descriptors, the paper's attention head (1x1 conv with {@code attentionHidden} filters +
 * ReLU, 1x1 conv with 1 filter, softplus), and two classifiers over {@code classes} identities (one
 * on the average-pooled descriptors for stage 1, one on the attention-weighted pool for stage 2).
 *
 * <p>Two backbones: {@link #RESIDUAL}, a small residual network trained from scratch (stride 8,
 * {@code width1}, {@code width2}, {@code descriptorDim} filters), and {@link #MOBILENET_V2},
 * MobileNetV2 through block 10 (stride 16, 96-d descriptors) started from ImageNet weights
 * ({@link MobileNetV2}); for the latter the widths are fixed and {@code width1}, {@code width2} are 0.
 *
 * @param backbone {@link #RESIDUAL} or {@link #MOBILENET_V2}
 * @param width1 filters of the stem (stride 2)
 * @param width2 filters of the second stage (stride 4, one residual block)
 * @param descriptorDim the descriptor size (the residual backbone's stride-8 filters)
 * @param attentionHidden filters of the attention head's first 1x1 conv (512 in the paper)
 * @param classes identities the network is trained to tell apart
 * @param seed seeds the initial weights
 */
public record DelfConfig(String backbone, int width1, int width2, int descriptorDim, int attentionHidden, int classes,
    long seed) {
  public static final String RESIDUAL = "residual";
  public static final String MOBILENET_V2 = "mobilenet_v2";

  public DelfConfig {
    if (MOBILENET_V2.equals(backbone)) {
      if (width1 != 0 || width2 != 0 || descriptorDim != MobileNetV2.channels(MobileNetV2.LAST_IMAGENET_BLOCK)) {
        throw new IllegalArgumentException("the MobileNetV2 backbone has fixed widths (0, 0, "
            + MobileNetV2.channels(MobileNetV2.LAST_IMAGENET_BLOCK) + "), passed " + width1 + ", " + width2 + ", "
            + descriptorDim);
      }
    } else if (!RESIDUAL.equals(backbone)) {
      throw new IllegalArgumentException("unknown DELF backbone '" + backbone + "': use " + RESIDUAL + " or "
          + MOBILENET_V2);
    } else if (width1 < 1 || width2 < 1 || descriptorDim < 8) {
      throw new IllegalArgumentException("DELF widths must be positive and the descriptor at least 8-d (passed "
          + width1 + ", " + width2 + ", " + descriptorDim + ")");
    }
    if (attentionHidden < 1 || classes < 2) {
      throw new IllegalArgumentException("the attention head needs filters and the classifier at least 2 classes"
          + " (passed " + attentionHidden + ", " + classes + " classes)");
    }
  }

  /** The default residual backbone: 32, 64, 128-d descriptors, attention 512 as in the paper. */
  public static DelfConfig of(int classes, long seed) {
    return new DelfConfig(RESIDUAL, 32, 64, 128, 512, classes, seed);
  }

  /** MobileNetV2 through block 10 (96-d descriptors, stride 16), attention 512. */
  public static DelfConfig mobileNet(int classes, long seed) {
    return new DelfConfig(MOBILENET_V2, 0, 0, MobileNetV2.channels(MobileNetV2.LAST_IMAGENET_BLOCK), 512, classes,
        seed);
  }

  /** Total stride of the feature map: image sides must be multiples of it. */
  public int stride() {
    return RESIDUAL.equals(backbone) ? 8 : MobileNetV2.stride(MobileNetV2.LAST_IMAGENET_BLOCK);
  }

  /**
   * Where the feature-map cell (row, col) is centred in the input image, in pixels (continuous
   * coordinates: pixel x covers [x, x+1)). With input sides that are multiples of the stride, each
   * stride-2 3x3 convolution (SAME, or padded one at the bottom/right as Keras does, which is the
   * same on even sides) maps output i to input 2i+1, so with total stride S cell i is centred on
   * input pixel S i + S - 1, at S i + S - 0.5.
   */
  public float centre(int cell) {
    int s = stride();
    return s * cell + s - 0.5f;
  }

  public Properties toProperties() {
    Properties p = new Properties();
    p.setProperty("backbone", backbone);
    p.setProperty("width1", Integer.toString(width1));
    p.setProperty("width2", Integer.toString(width2));
    p.setProperty("descriptorDim", Integer.toString(descriptorDim));
    p.setProperty("attentionHidden", Integer.toString(attentionHidden));
    p.setProperty("classes", Integer.toString(classes));
    p.setProperty("seed", Long.toString(seed));
    return p;
  }

  /** Reads {@link #toProperties}; a file without {@code backbone} (written before there were two) is residual. */
  public static DelfConfig fromProperties(Properties p) {
    try {
      return new DelfConfig(p.getProperty("backbone", RESIDUAL), Integer.parseInt(p.getProperty("width1")),
          Integer.parseInt(p.getProperty("width2")), Integer.parseInt(p.getProperty("descriptorDim")),
          Integer.parseInt(p.getProperty("attentionHidden")), Integer.parseInt(p.getProperty("classes")),
          Long.parseLong(p.getProperty("seed")));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("not a DELF network description (" + e.getMessage() + ")");
    }
  }
}
