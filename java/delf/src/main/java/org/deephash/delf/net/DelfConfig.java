package org.deephash.delf.net;

import java.util.Properties;

/**
 * The shape of the DELF network: a small fully convolutional residual backbone whose stride-8
 * feature map gives the dense local descriptors, the paper's attention head (1x1 conv with
 * {@code attentionHidden} filters + ReLU, 1x1 conv with 1 filter, softplus), and two classifiers
 * over {@code classes} identities (one on the average-pooled descriptors for stage 1, one on the
 * attention-weighted pool for stage 2).
 *
 * @param width1 filters of the stem (stride 2)
 * @param width2 filters of the second stage (stride 4, one residual block)
 * @param descriptorDim filters of the third stage (stride 8, one residual block): the descriptor size
 * @param attentionHidden filters of the attention head's first 1x1 conv (512 in the paper)
 * @param classes identities the network is trained to tell apart
 * @param seed seeds the initial weights
 */
public record DelfConfig(int width1, int width2, int descriptorDim, int attentionHidden, int classes, long seed) {
  /** Total stride of the feature map. */
  public static final int STRIDE = 8;

  public DelfConfig {
    if (width1 < 1 || width2 < 1 || descriptorDim < 8 || attentionHidden < 1 || classes < 2) {
      throw new IllegalArgumentException("DELF widths must be positive, the descriptor at least 8-d and at least 2"
          + " classes (passed " + width1 + ", " + width2 + ", " + descriptorDim + ", " + attentionHidden + ", "
          + classes + " classes)");
    }
  }

  /** The default: 32, 64, 128-d descriptors, attention 512 as in the paper. */
  public static DelfConfig of(int classes, long seed) {
    return new DelfConfig(32, 64, 128, 512, classes, seed);
  }

  /**
   * Where the feature-map cell (row, col) is centred in the input image, in pixels (continuous
   * coordinates: pixel x covers [x, x+1)). With input sides that are multiples of 8, each 3x3
   * stride-2 SAME convolution maps output i to input 2i+1, so cell i is centred on input pixel
   * 8i + 7, at 8i + 7.5.
   */
  public static float centre(int cell) {
    return STRIDE * cell + STRIDE - 0.5f;
  }

  public Properties toProperties() {
    Properties p = new Properties();
    p.setProperty("width1", Integer.toString(width1));
    p.setProperty("width2", Integer.toString(width2));
    p.setProperty("descriptorDim", Integer.toString(descriptorDim));
    p.setProperty("attentionHidden", Integer.toString(attentionHidden));
    p.setProperty("classes", Integer.toString(classes));
    p.setProperty("seed", Long.toString(seed));
    return p;
  }

  public static DelfConfig fromProperties(Properties p) {
    try {
      return new DelfConfig(Integer.parseInt(p.getProperty("width1")), Integer.parseInt(p.getProperty("width2")),
          Integer.parseInt(p.getProperty("descriptorDim")), Integer.parseInt(p.getProperty("attentionHidden")),
          Integer.parseInt(p.getProperty("classes")), Long.parseLong(p.getProperty("seed")));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("not a DELF network description (" + e.getMessage() + ")");
    }
  }
}
