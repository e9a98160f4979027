package org.deephash.model.net;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import org.deephash.model.pretrained.MobileNetV2;
import org.deephash.model.pretrained.MobileNetV2Cpu;

/**
 * The {@code mobilenet_v2} hashing network's inference on the CPU: the backbone (and, for attention
 * pooling, the attention head) on {@link MobileNetV2Cpu}, then the pooling, L2 normalisation (F7),
 * the latent layer and the classifier of {@link HashNet}'s exported graph, read from its variables.
 *
 * <p>Results equal TensorFlow's up to float rounding: {@code MobileNetForwardTest} bounds the
 * difference of F7 and the latent activations and checks that codes differ only where
 * TensorFlow's activation is within rounding of 0.5.
 */
final class MobileNetForward implements AutoCloseable {
  private final HashNetConfig config;
  private final MobileNetV2Cpu net;
  private final boolean attention;
  private final int cells;
  private final float[] hashW;
  private final float[] hashB;
  private final float[] f8W;
  private final float[] f8B;
  private final ThreadLocal<float[][]> buffers;

  /**
   * Reads the network of {@code config} from {@code variable} (name to values, as {@link HashNet}
   * names its variables: {@code mnv2_<layer>_kernel}, {@code h_w}, ...).
   */
  MobileNetForward(HashNetConfig config, Function<String, float[]> variable) {
    if (!config.pretrainedBackbone() || config.channels() != 3) {
      throw new IllegalArgumentException("not a mobilenet_v2 hashing network: " + config);
    }
    this.config = config;
    attention = config.pooling().equals(HashNetConfig.ATTENTION);
    Map<String, MobileNetV2.Folded> weights = new LinkedHashMap<>();
    for (MobileNetV2.Conv c : MobileNetV2.layers(HashNetConfig.MOBILENET_BLOCK)) {
      weights.put(c.name(), new MobileNetV2.Folded(variable.apply("mnv2_" + c.name() + "_kernel"),
          variable.apply("mnv2_" + c.name() + "_bias")));
    }
    if (attention) {
      for (String a : new String[] {HashNet.ATTENTION_1, HashNet.ATTENTION_2}) {
        weights.put(a, new MobileNetV2.Folded(variable.apply("mnv2_" + a + "_kernel"),
            variable.apply("mnv2_" + a + "_bias")));
      }
    }
    net = new MobileNetV2Cpu(weights, HashNetConfig.MOBILENET_BLOCK, attention);
    if (net.channels() != config.featureDim()) {
      throw new IllegalArgumentException("the backbone gives " + net.channels() + " features, the model "
          + config.featureDim());
    }
    cells = net.outSide(config.height()) * net.outSide(config.width());
    hashW = variable.apply(HashNet.HASH_WEIGHTS);
    hashB = variable.apply(HashNet.HASH_BIAS);
    f8W = variable.apply("f8_w");
    f8B = variable.apply("f8_b");
    int d = config.featureDim();
    buffers = ThreadLocal.withInitial(() -> new float[][] {new float[cells * d], new float[cells]});
  }

  /**
   * One image ({@code H x W x 3} floats in [0, 1] from {@code px[off]}): writes its F7 to {@code
   * f7[i * d]}, its latent activations to {@code latent[i * bits]} and its class probabilities to
   * {@code probs[i * classes]}; {@code split}: this image's layers over two cores (one image
   * alone), else on this thread (a batch, its images spread over the cores).
   */
  void forward(float[] px, int off, int i, float[] f7, float[] latent, float[] probs, boolean split) {
    float[][] b = buffers.get();
    float[] f = b[0];
    float[] scores = attention ? b[1] : null;
    if (split) {
      net.run(px, off, config.height(), config.width(), f, 0, scores, 0);
    } else {
      net.runHere(px, off, config.height(), config.width(), f, 0, scores, 0);
    }
    pool(f, scores, f7, i);
    head(f7, i, latent, probs);
  }

  /** F7: the cells' mean (or attention-weighted mean of the L2-normalised cells), L2-normalised. */
  private void pool(float[] f, float[] scores, float[] f7, int i) {
    int d = config.featureDim();
    double[] p = new double[d];
    for (int q = 0; q < cells; q++) {
      if (scores == null) {
        for (int k = 0; k < d; k++) {
          p[k] += f[q * d + k];
        }
      } else {
        float norm = MobileNetV2Cpu.cellNorm(f, q * d, d);
        for (int k = 0; k < d; k++) {
          p[k] += (f[q * d + k] / norm) * (double) scores[q];
        }
      }
    }
    double ss = 0;
    for (int k = 0; k < d; k++) {
      p[k] /= cells;
      ss += p[k] * p[k];
    }
    double norm = Math.sqrt(ss + 1e-12);
    for (int k = 0; k < d; k++) {
      f7[i * d + k] = (float) (p[k] / norm);
    }
  }

  /** The latent layer (sigmoid of sqrt(d) F7 w + b) and the classifier's softmax. */
  private void head(float[] f7, int i, float[] latent, float[] probs) {
    int d = config.featureDim();
    int bits = config.bits();
    int classes = config.classes();
    double scale = Math.sqrt(d);
    double[] z = new double[Math.max(bits, classes)];
    for (int k = 0; k < d; k++) {
      double x = f7[i * d + k] * scale;
      for (int c = 0; c < bits; c++) {
        z[c] += x * hashW[k * bits + c];
      }
    }
    for (int c = 0; c < bits; c++) {
      latent[i * bits + c] = (float) (1 / (1 + Math.exp(-(z[c] + hashB[c]))));
    }
    java.util.Arrays.fill(z, 0);
    for (int c = 0; c < bits; c++) {
      double x = latent[i * bits + c];
      for (int k = 0; k < classes; k++) {
        z[k] += x * f8W[c * classes + k];
      }
    }
    double max = Double.NEGATIVE_INFINITY;
    for (int k = 0; k < classes; k++) {
      z[k] += f8B[k];
      max = Math.max(max, z[k]);
    }
    double sum = 0;
    for (int k = 0; k < classes; k++) {
      z[k] = Math.exp(z[k] - max);
      sum += z[k];
    }
    for (int k = 0; k < classes; k++) {
      probs[i * classes + k] = (float) (z[k] / sum);
    }
  }

  @Override
  public void close() {
    net.close();
  }
}
