package org.deephash.model.pretrained;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;

/**
 * The MobileNetV2 backbone (Sandler et al., CVPR 2018; width 1.0) up to an inverted-residual block,
 * with Keras's layer names, so that ImageNet weights read from a TF.js layers model
 * ({@link TfjsLayersModel}) can be loaded into it.
 *
 * <p>Batch normalisation is folded into the convolutions when the weights are loaded
 * ({@link #fold}): a convolution with kernel {@code K} followed by BN ({@code gamma, beta, mean,
 * var, eps}) is the convolution with kernel {@code K * s} and bias {@code beta - mean * s}, with
 * {@code s = gamma / sqrt(var + eps)} per output channel. Stride-2 layers pad one row and column
 * at the bottom and right, then convolve without padding, as Keras's {@code ZeroPadding2D} does.
 * Inputs in [0, 1] are mapped to [-1, 1], the range the ImageNet weights were trained for.
 */
public final class MobileNetV2 {
  /**
   * The inverted-residual blocks of width 1.0: expansion factor, output channels and stride. Block
   * 0 is Keras's {@code expanded_conv}; block b >= 1 is {@code block_b}.
   */
  private static final int[][] BLOCKS = {
      {1, 16, 1}, {6, 24, 2}, {6, 24, 1}, {6, 32, 2}, {6, 32, 1}, {6, 32, 1}, {6, 64, 2}, {6, 64, 1}, {6, 64, 1},
      {6, 64, 1}, {6, 96, 1}, {6, 96, 1}, {6, 96, 1}, {6, 160, 2}, {6, 160, 1}, {6, 160, 1}, {6, 320, 1}};

  /** The stem's filters (Keras {@code Conv1}). */
  private static final int STEM = 32;

  /** The last block whose weights in nsfwjs 4.4.0's MobileNetV2 are still ImageNet's (the later ones were fine-tuned). */
  public static final int LAST_IMAGENET_BLOCK = 10;

  /** One convolution of the network: Keras layer name, depthwise or not, k x k, channels, stride, ReLU6 after it. */
  public record Conv(String name, String bn, boolean depthwise, int k, int in, int out, int stride, boolean relu6) {
    /** The kernel's shape: k x k x in x out, or k x k x channels x 1 for a depthwise one. */
    public int[] kernelShape() {
      return depthwise ? new int[] {k, k, in, 1} : new int[] {k, k, in, out};
    }
  }

  /** A convolution's folded weights: the kernel in TensorFlow's layout and one bias per output channel. */
  public record Folded(float[] kernel, float[] bias) {}

  private MobileNetV2() {}

  /** Output channels of block {@code last}: the descriptor size when the network ends there. */
  public static int channels(int last) {
    checkBlock(last);
    return BLOCKS[last][1];
  }

  /** Total stride after block {@code last}. */
  public static int stride(int last) {
    checkBlock(last);
    int s = 2;
    for (int b = 0; b <= last; b++) {
      s *= BLOCKS[b][2];
    }
    return s;
  }

  private static void checkBlock(int last) {
    if (last < 0 || last >= BLOCKS.length) {
      throw new IllegalArgumentException("MobileNetV2 has blocks 0.." + (BLOCKS.length - 1) + ", not " + last);
    }
  }

  /** The convolutions from the stem through block {@code last}, in order. */
  public static List<Conv> layers(int last) {
    checkBlock(last);
    List<Conv> out = new ArrayList<>();
    out.add(new Conv("Conv1", "bn_Conv1", false, 3, 3, STEM, 2, true));
    int c = STEM;
    for (int b = 0; b <= last; b++) {
      int t = BLOCKS[b][0];
      int o = BLOCKS[b][1];
      int s = BLOCKS[b][2];
      String p = b == 0 ? "expanded_conv_" : "block_" + b + "_";
      int hidden = c * t;
      if (t != 1) {
        out.add(new Conv(p + "expand", p + "expand_BN", false, 1, c, hidden, 1, true));
      }
      out.add(new Conv(p + "depthwise", p + "depthwise_BN", true, 3, hidden, hidden, s, true));
      out.add(new Conv(p + "project", p + "project_BN", false, 1, hidden, o, 1, false));
      c = o;
    }
    return out;
  }

  /**
   * Checks that {@code model}'s topology has the layers this network expects (class, stride,
   * kernel) and folds each convolution's BN into its weights. Throws naming the first mismatch.
   */
  public static Map<String, Folded> fold(TfjsLayersModel model, int last) {
    Map<String, Folded> out = new LinkedHashMap<>();
    for (Conv c : layers(last)) {
      TfjsLayersModel.Layer layer = model.layer(c.name());
      String expected = c.depthwise() ? "DepthwiseConv2D" : "Conv2D";
      if (!layer.className().equals(expected)) {
        throw new IllegalArgumentException("layer " + c.name() + " is a " + layer.className() + ", expected "
            + expected + ": not a MobileNetV2");
      }
      List<?> strides = (List<?>) layer.config().get("strides");
      if (strides == null || ((Number) strides.get(0)).intValue() != c.stride()) {
        throw new IllegalArgumentException("layer " + c.name() + " has strides " + strides + ", expected "
            + c.stride() + ": not a MobileNetV2 of width 1.0");
      }
      if (Boolean.TRUE.equals(layer.config().get("use_bias"))) {
        throw new IllegalArgumentException("layer " + c.name() + " has a bias; MobileNetV2's convolutions have none");
      }
      TfjsLayersModel.Layer bn = model.layer(c.bn());
      double eps = bn.config().get("epsilon") instanceof Number n ? n.doubleValue() : 1e-3;
      float[] kernel = model.weight(c.name() + (c.depthwise() ? "/depthwise_kernel" : "/kernel"), c.kernelShape())
          .values().clone();
      float[] gamma = model.weight(c.bn() + "/gamma", c.out()).values();
      float[] beta = model.weight(c.bn() + "/beta", c.out()).values();
      float[] mean = model.weight(c.bn() + "/moving_mean", c.out()).values();
      float[] var = model.weight(c.bn() + "/moving_variance", c.out()).values();
      float[] bias = new float[c.out()];
      float[] scale = new float[c.out()];
      for (int o = 0; o < c.out(); o++) {
        scale[o] = (float) (gamma[o] / Math.sqrt(var[o] + eps));
        bias[o] = beta[o] - mean[o] * scale[o];
      }
      // the output channel is the last index for both layouts (depthwise: channel, multiplier 1)
      for (int i = 0; i < kernel.length; i++) {
        kernel[i] *= scale[i % c.out()];
      }
      out.put(c.name(), new Folded(kernel, bias));
    }
    return Collections.unmodifiableMap(out);
  }

  /**
   * Reads the TF.js MobileNetV2 in {@code dir} (bench/delf/setup-pretrained.sh) and folds its
   * layers through {@link #LAST_IMAGENET_BLOCK}; a missing folder is an IOException that says how
   * to get it.
   */
  public static Map<String, Folded> imageNet(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new IOException("no pretrained MobileNetV2 at " + dir
          + ": run bench/delf/setup-pretrained.sh (or pass --pretrained DIR)");
    }
    return fold(TfjsLayersModel.read(dir), LAST_IMAGENET_BLOCK);
  }

  /** Supplies each convolution's kernel and bias as graph operands (variables, usually). */
  public interface WeightSource {
    Operand<TFloat32> kernel(Conv c);

    Operand<TFloat32> bias(Conv c);
  }

  /**
   * The kernels and biases as graph variables named {@code prefix + layer + "_kernel"} / {@code
   * "_bias"}, initialised from the folded {@code pretrained} values, or zeros when it is null (a
   * checkpoint is about to overwrite them). A name already in {@code made} is reused (so two paths
   * through the network share one set); each new variable is put there and appended to {@code list}.
   */
  public static WeightSource variables(Ops tf, Map<String, Folded> pretrained, String prefix,
      Map<String, Variable<TFloat32>> made, List<Variable<TFloat32>> list) {
    return new WeightSource() {
      @Override
      public Operand<TFloat32> kernel(Conv c) {
        return variable(c.name() + "_kernel", pretrained == null ? null : folded(c).kernel(), c.kernelShape());
      }

      @Override
      public Operand<TFloat32> bias(Conv c) {
        return variable(c.name() + "_bias", pretrained == null ? null : folded(c).bias(), c.out());
      }

      private Folded folded(Conv c) {
        Folded f = pretrained.get(c.name());
        if (f == null) {
          throw new IllegalArgumentException("the pretrained weights lack layer " + c.name());
        }
        return f;
      }

      private Variable<TFloat32> variable(String name, float[] values, int... dims) {
        return made.computeIfAbsent(prefix + name, k -> {
          Ops init = tf.withInitScope();
          Shape shape = Shape.of(Arrays.stream(dims).asLongStream().toArray());
          Operand<TFloat32> value = values == null ? init.zeros(init.constant(shape.asArray()), TFloat32.class)
              : init.constant(shape, DataBuffers.of(values, true, false));
          Variable<TFloat32> v = tf.withName(k).variable(value);
          list.add(v);
          return v;
        });
      }
    };
  }

  /** Builds the network on {@code images} (N x H x W x 3 in [0, 1]) through block {@code last}. */
  public static Operand<TFloat32> build(Ops tf, Operand<TFloat32> images, int last, WeightSource weights) {
    List<Conv> convs = layers(last);
    Operand<TFloat32> x = tf.math.sub(tf.math.mul(images, tf.constant(2f)), tf.constant(1f));
    int i = 0;
    x = conv(tf, x, convs.get(i++), weights);
    for (int b = 0; b <= last; b++) {
      Operand<TFloat32> in = x;
      for (int n = BLOCKS[b][0] == 1 ? 2 : 3; n > 0; n--) {
        x = conv(tf, x, convs.get(i++), weights);
      }
      if (residual(b)) {
        x = tf.math.add(in, x);
      }
    }
    return x;
  }

  private static Operand<TFloat32> conv(Ops tf, Operand<TFloat32> x, Conv c, WeightSource weights) {
    String padding = "SAME";
    List<Long> strides = List.of(1L, 1L, 1L, 1L);
    if (c.stride() == 2) {
      x = tf.pad(x, tf.constant(new int[][] {{0, 0}, {0, 1}, {0, 1}, {0, 0}}), tf.constant(0f));
      padding = "VALID";
      strides = List.of(1L, 2L, 2L, 1L);
    }
    Operand<TFloat32> y = c.depthwise() ? tf.nn.depthwiseConv2dNative(x, weights.kernel(c), strides, padding)
        : tf.nn.conv2d(x, weights.kernel(c), strides, padding);
    y = tf.nn.biasAdd(y, weights.bias(c));
    return c.relu6() ? tf.nn.relu6(y) : y;
  }

  /** Block b adds its input to its output when it keeps the size: stride 1 and as many channels out as in. */
  public static boolean residual(int b) {
    int in = b == 0 ? STEM : BLOCKS[b - 1][1];
    return BLOCKS[b][2] == 1 && in == BLOCKS[b][1];
  }
}
