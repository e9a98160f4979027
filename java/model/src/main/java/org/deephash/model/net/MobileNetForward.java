package org.deephash.model.net;

import java.util.List;
import java.util.function.Function;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.deephash.model.pretrained.MobileNetV2;

/**
 * The {@code mobilenet_v2} hashing network's inference on the CPU with the Vector API: MobileNetV2
 * through block 10, mean or attention pooling, L2 normalisation (F7), the latent layer and the
 * classifier, exactly the graph {@link HashNet} exports, read from its variables.
 *
 * <p>Why hand-written: TensorFlow Java's CPU build runs this network at about 4.5-5.5 ms an image
 * on the 2-core VM (its depthwise convolutions are not built for AVX2 or AVX-512), which is most of
 * a photo query's time; no other inference library is a dependency of this project. Every 1 x 1
 * convolution (and the stem, through im2col) is a small matrix product here, computed by a 4-row by
 * 2-vector register-blocked kernel (bias, ReLU6 and the residual add fused into its stores);
 * depthwise convolutions run one vector of channels at a time. Channels are padded to a whole
 * number of vectors with zero weights, so no kernel has a ragged tail.
 *
 * <p>Results equal TensorFlow's up to float rounding (sums are taken in another order): the parity
 * test bounds the difference of F7 and the latent activations and checks that codes differ only
 * where TensorFlow's activation is within rounding of 0.5.
 */
final class MobileNetForward {
  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final int L = S.length();

  /** Whether this class can run: the Vector API module is loaded. */
  static boolean available() {
    return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
  }

  /** A 1 x 1 convolution (or the stem's im2col product): {@code k} input rows, padded output width. */
  private record Dense(int k, int out, int outP, float[] w, float[] b) {}

  /** A depthwise 3 x 3 convolution over {@code cP} padded channels. */
  private record Depthwise(int c, int cP, int stride, float[] w, float[] b) {}

  private record Block(Dense expand, Depthwise depthwise, Dense project, boolean residual) {}

  private final HashNetConfig config;
  private final Dense stem;
  private final List<Block> blocks;
  private final Dense attention1;
  private final float[] attention2;
  private final float attention2Bias;
  private final float[] hashW;
  private final float[] hashB;
  private final float[] f8W;
  private final float[] f8B;
  private final int maxFloats;
  private final ThreadLocal<Scratch> scratch;

  /**
   * Reads the network of {@code config} from {@code variable} (name to values, as {@link HashNet}
   * names its variables: {@code mnv2_<layer>_kernel}, {@code h_w}, ...).
   */
  MobileNetForward(HashNetConfig config, Function<String, float[]> variable) {
    if (!config.pretrainedBackbone() || config.channels() != 3) {
      throw new IllegalArgumentException("not a mobilenet_v2 hashing network: " + config);
    }
    this.config = config;
    List<MobileNetV2.Conv> convs = MobileNetV2.layers(HashNetConfig.MOBILENET_BLOCK);
    int i = 0;
    MobileNetV2.Conv c0 = convs.get(i++);
    stem = dense(c0, 9 * c0.in(), variable);
    java.util.ArrayList<Block> bs = new java.util.ArrayList<>();
    int h = config.height();
    int w = config.width();
    h = (h - 2) / 2 + 1;
    w = (w - 2) / 2 + 1;
    int max = h * w * stem.outP();
    for (int b = 0; i < convs.size(); b++) {
      Dense expand = null;
      if (!convs.get(i).depthwise()) {
        expand = dense(convs.get(i++), convs.get(i - 1).in(), variable);
        max = Math.max(max, h * w * expand.outP());
      }
      MobileNetV2.Conv dc = convs.get(i++);
      Depthwise dw = new Depthwise(dc.in(), pad(dc.in()), dc.stride(),
          repack(variable.apply(prefix(dc) + "_kernel"), 9, dc.in(), pad(dc.in())),
          repack(variable.apply(prefix(dc) + "_bias"), 1, dc.in(), pad(dc.in())));
      if (dc.stride() == 2) {
        h = (h - 2) / 2 + 1;
        w = (w - 2) / 2 + 1;
      }
      max = Math.max(max, h * w * dw.cP());
      MobileNetV2.Conv pc = convs.get(i++);
      Dense project = dense(pc, pc.in(), variable);
      max = Math.max(max, h * w * project.outP());
      bs.add(new Block(expand, dw, project, MobileNetV2.residual(b)));
    }
    blocks = List.copyOf(bs);
    int d = config.featureDim();
    if (config.pooling().equals(HashNetConfig.ATTENTION)) {
      int hidden = HashNetConfig.ATTENTION_HIDDEN;
      attention1 = new Dense(d, hidden, pad(hidden),
          repack(variable.apply("mnv2_" + HashNet.ATTENTION_1 + "_kernel"), d, hidden, pad(hidden)),
          repack(variable.apply("mnv2_" + HashNet.ATTENTION_1 + "_bias"), 1, hidden, pad(hidden)));
      attention2 = repack(variable.apply("mnv2_" + HashNet.ATTENTION_2 + "_kernel"), 1, hidden, pad(hidden));
      attention2Bias = variable.apply("mnv2_" + HashNet.ATTENTION_2 + "_bias")[0];
      max = Math.max(max, h * w * pad(hidden));
    } else {
      attention1 = null;
      attention2 = null;
      attention2Bias = 0;
    }
    hashW = variable.apply(HashNet.HASH_WEIGHTS);
    hashB = variable.apply(HashNet.HASH_BIAS);
    f8W = variable.apply("f8_w");
    f8B = variable.apply("f8_b");
    maxFloats = max;
    int cells = h * w;
    int im2col = stemRows() * stem.k();
    scratch = ThreadLocal.withInitial(() -> new Scratch(maxFloats, im2col, cells * d));
  }

  private static String prefix(MobileNetV2.Conv c) {
    return "mnv2_" + c.name();
  }

  private static int pad(int c) {
    return (c + L - 1) / L * L;
  }

  private int stemRows() {
    return ((config.height() - 2) / 2 + 1) * ((config.width() - 2) / 2 + 1);
  }

  /** A rows x cols matrix (row-major) with each row widened to colsP by zeros. */
  private static float[] repack(float[] v, int rows, int cols, int colsP) {
    if (v.length != rows * cols) {
      throw new IllegalArgumentException("expected " + rows + " x " + cols + " values, got " + v.length);
    }
    float[] out = new float[rows * colsP];
    for (int r = 0; r < rows; r++) {
      System.arraycopy(v, r * cols, out, r * colsP, cols);
    }
    return out;
  }

  /** A convolution as a matrix: the kernel's k x k x in rows (HWIO flattened) by its outputs. */
  private static Dense dense(MobileNetV2.Conv c, int rows, Function<String, float[]> variable) {
    int outP = pad(c.out());
    return new Dense(rows, c.out(), outP, repack(variable.apply(prefix(c) + "_kernel"), rows, c.out(), outP),
        repack(variable.apply(prefix(c) + "_bias"), 1, c.out(), outP));
  }

  /** Per-thread buffers. */
  private static final class Scratch {
    final float[] a;
    final float[] b;
    final float[] c;
    final float[] cols;
    final float[] unit;

    Scratch(int floats, int im2col, int cellFeatures) {
      a = new float[floats];
      b = new float[floats];
      c = new float[floats];
      cols = new float[im2col];
      unit = new float[cellFeatures];
    }
  }

  /**
   * One image ({@code H x W x 3} floats in [0, 1] from {@code px[off]}): writes its F7 to {@code
   * f7[i * d]}, its latent activations to {@code latent[i * bits]} and its class probabilities to
   * {@code probs[i * classes]}.
   */
  void forward(float[] px, int off, int i, float[] f7, float[] latent, float[] probs) {
    forward(px, off, i, f7, latent, probs, null);
  }

  /** One image's layers split between this thread and the helper {@code runner} (null: this thread only). */
  void forward(float[] px, int off, int i, float[] f7, float[] latent, float[] probs, SplitRunner runner) {
    Scratch s = scratch.get();
    int h = config.height();
    int w = config.width();
    // the stem: inputs to [-1, 1], one zero row and column at the bottom and right, 3 x 3 stride 2
    int oh = (h - 2) / 2 + 1;
    int ow = (w - 2) / 2 + 1;
    float[] cols = s.cols;
    int k = 0;
    for (int oy = 0; oy < oh; oy++) {
      for (int ox = 0; ox < ow; ox++) {
        for (int ky = 0; ky < 3; ky++) {
          int iy = 2 * oy + ky;
          for (int kx = 0; kx < 3; kx++) {
            int ix = 2 * ox + kx;
            int p = off + (iy * w + ix) * 3;
            boolean in = iy < h && ix < w;
            cols[k++] = in ? px[p] * 2f - 1f : 0f;
            cols[k++] = in ? px[p + 1] * 2f - 1f : 0f;
            cols[k++] = in ? px[p + 2] * 2f - 1f : 0f;
          }
        }
      }
    }
    float[] cur = s.a;
    float[] other = s.b;
    float[] mid = s.c;
    gemm(cols, oh * ow, stem.k(), stem.k(), stem, cur, true, null, runner);
    h = oh;
    w = ow;
    int cP = stem.outP();
    for (Block b : blocks) {
      float[] x = cur;
      int xcP = cP;
      if (b.expand() != null) {
        gemm(cur, h * w, b.expand().k(), cP, b.expand(), other, true, null, runner);
        x = other;
        xcP = b.expand().outP();
      }
      Depthwise dw = b.depthwise();
      int nh = dw.stride() == 2 ? (h - 2) / 2 + 1 : h;
      int nw = dw.stride() == 2 ? (w - 2) / 2 + 1 : w;
      depthwise(x, h, w, dw, mid, nh, nw, runner);
      assert xcP == dw.cP();
      // the expansion (if any) is spent: the projection goes where it was; cur stays for the residual
      float[] out = other;
      gemm(mid, nh * nw, b.project().k(), dw.cP(), b.project(), out, false, b.residual() ? cur : null, runner);
      float[] t = cur;
      cur = out;
      other = t;
      h = nh;
      w = nw;
      cP = b.project().outP();
    }
    pool(cur, h * w, cP, s, mid, f7, i);
    head(f7, i, latent, probs);
  }

  /**
   * c[r][j] = act(bias[j] + sum_k a[r * lda + k] * w[k][j] (+ res[r][j])) for rows r, padded columns j;
   * act is ReLU6 when asked for.
   */
  private static void gemm(float[] a, int rows, int k, int lda, Dense d, float[] c, boolean relu6, float[] res,
      SplitRunner runner) {
    if (runner == null) {
      gemm(a, 0, rows, k, lda, d, c, relu6, res);
    } else {
      runner.split((from, to) -> gemm(a, from, to, k, lda, d, c, relu6, res), rows, 4);
    }
  }

  /** Rows [r0, r1) of the product. */
  private static void gemm(float[] a, int r0, int r1, int k, int lda, Dense d, float[] c, boolean relu6,
      float[] res) {
    int rows = r1;
    float[] w = d.w();
    float[] bias = d.b();
    int n = d.outP();
    int r = r0;
    for (; r + 4 <= rows; r += 4) {
      int a0 = r * lda;
      int a1 = a0 + lda;
      int a2 = a1 + lda;
      int a3 = a2 + lda;
      int j = 0;
      for (; j + 2 * L <= n; j += 2 * L) {
        FloatVector c00 = FloatVector.fromArray(S, bias, j);
        FloatVector c01 = FloatVector.fromArray(S, bias, j + L);
        FloatVector c10 = c00;
        FloatVector c11 = c01;
        FloatVector c20 = c00;
        FloatVector c21 = c01;
        FloatVector c30 = c00;
        FloatVector c31 = c01;
        for (int kk = 0, wo = j; kk < k; kk++, wo += n) {
          FloatVector w0 = FloatVector.fromArray(S, w, wo);
          FloatVector w1 = FloatVector.fromArray(S, w, wo + L);
          FloatVector x0 = FloatVector.broadcast(S, a[a0 + kk]);
          FloatVector x1 = FloatVector.broadcast(S, a[a1 + kk]);
          FloatVector x2 = FloatVector.broadcast(S, a[a2 + kk]);
          FloatVector x3 = FloatVector.broadcast(S, a[a3 + kk]);
          c00 = w0.fma(x0, c00);
          c01 = w1.fma(x0, c01);
          c10 = w0.fma(x1, c10);
          c11 = w1.fma(x1, c11);
          c20 = w0.fma(x2, c20);
          c21 = w1.fma(x2, c21);
          c30 = w0.fma(x3, c30);
          c31 = w1.fma(x3, c31);
        }
        int o = r * n + j;
        store(c00, c, o, relu6, res);
        store(c01, c, o + L, relu6, res);
        store(c10, c, o + n, relu6, res);
        store(c11, c, o + n + L, relu6, res);
        store(c20, c, o + 2 * n, relu6, res);
        store(c21, c, o + 2 * n + L, relu6, res);
        store(c30, c, o + 3 * n, relu6, res);
        store(c31, c, o + 3 * n + L, relu6, res);
      }
      for (; j < n; j += L) {
        FloatVector c0 = FloatVector.fromArray(S, bias, j);
        FloatVector c1 = c0;
        FloatVector c2 = c0;
        FloatVector c3 = c0;
        for (int kk = 0, wo = j; kk < k; kk++, wo += n) {
          FloatVector w0 = FloatVector.fromArray(S, w, wo);
          c0 = w0.fma(FloatVector.broadcast(S, a[a0 + kk]), c0);
          c1 = w0.fma(FloatVector.broadcast(S, a[a1 + kk]), c1);
          c2 = w0.fma(FloatVector.broadcast(S, a[a2 + kk]), c2);
          c3 = w0.fma(FloatVector.broadcast(S, a[a3 + kk]), c3);
        }
        int o = r * n + j;
        store(c0, c, o, relu6, res);
        store(c1, c, o + n, relu6, res);
        store(c2, c, o + 2 * n, relu6, res);
        store(c3, c, o + 3 * n, relu6, res);
      }
    }
    for (; r < rows; r++) {
      int a0 = r * lda;
      for (int j = 0; j < n; j += L) {
        FloatVector c0 = FloatVector.fromArray(S, bias, j);
        for (int kk = 0, wo = j; kk < k; kk++, wo += n) {
          c0 = FloatVector.fromArray(S, w, wo).fma(FloatVector.broadcast(S, a[a0 + kk]), c0);
        }
        store(c0, c, r * n + j, relu6, res);
      }
    }
  }

  private static final FloatVector ZERO = FloatVector.zero(S);
  private static final FloatVector SIX = FloatVector.broadcast(S, 6f);

  private static void store(FloatVector v, float[] c, int o, boolean relu6, float[] res) {
    if (res != null) {
      v = v.add(FloatVector.fromArray(S, res, o));
    }
    if (relu6) {
      v = v.max(ZERO).min(SIX);
    }
    v.intoArray(c, o);
  }

  /**
   * 3 x 3 depthwise convolution, bias, ReLU6: stride 1 with one zero cell on every side (SAME),
   * stride 2 with one zero row and column at the bottom and right (Keras's padding, then VALID).
   */
  private static void depthwise(float[] x, int h, int w, Depthwise d, float[] out, int oh, int ow,
      SplitRunner runner) {
    if (runner == null) {
      depthwise(x, h, w, d, out, ow, 0, oh);
    } else {
      runner.split((from, to) -> depthwise(x, h, w, d, out, ow, from, to), oh, 1);
    }
  }

  /** Output rows [y0, y1). */
  private static void depthwise(float[] x, int h, int w, Depthwise d, float[] out, int ow, int y0, int y1) {
    int cP = d.cP();
    int s = d.stride();
    int top = s == 1 ? 1 : 0;
    float[] wt = d.w();
    // one vector of channels at a time: its nine taps and bias stay in registers over every cell
    for (int c = 0; c < cP; c += L) {
      FloatVector bias = FloatVector.fromArray(S, d.b(), c);
      FloatVector k0 = FloatVector.fromArray(S, wt, c);
      FloatVector k1 = FloatVector.fromArray(S, wt, cP + c);
      FloatVector k2 = FloatVector.fromArray(S, wt, 2 * cP + c);
      FloatVector k3 = FloatVector.fromArray(S, wt, 3 * cP + c);
      FloatVector k4 = FloatVector.fromArray(S, wt, 4 * cP + c);
      FloatVector k5 = FloatVector.fromArray(S, wt, 5 * cP + c);
      FloatVector k6 = FloatVector.fromArray(S, wt, 6 * cP + c);
      FloatVector k7 = FloatVector.fromArray(S, wt, 7 * cP + c);
      FloatVector k8 = FloatVector.fromArray(S, wt, 8 * cP + c);
      int row = w * cP;
      for (int oy = y0; oy < y1; oy++) {
        int iy0 = oy * s - top;
        boolean rowsInside = iy0 >= 0 && iy0 + 2 < h;
        for (int ox = 0; ox < ow; ox++) {
          int ix0 = ox * s - top;
          FloatVector acc;
          if (rowsInside && ix0 >= 0 && ix0 + 2 < w) {
            int p = (iy0 * w + ix0) * cP + c;
            acc = FloatVector.fromArray(S, x, p).fma(k0, bias);
            acc = FloatVector.fromArray(S, x, p + cP).fma(k1, acc);
            acc = FloatVector.fromArray(S, x, p + 2 * cP).fma(k2, acc);
            acc = FloatVector.fromArray(S, x, p + row).fma(k3, acc);
            acc = FloatVector.fromArray(S, x, p + row + cP).fma(k4, acc);
            acc = FloatVector.fromArray(S, x, p + row + 2 * cP).fma(k5, acc);
            acc = FloatVector.fromArray(S, x, p + 2 * row).fma(k6, acc);
            acc = FloatVector.fromArray(S, x, p + 2 * row + cP).fma(k7, acc);
            acc = FloatVector.fromArray(S, x, p + 2 * row + 2 * cP).fma(k8, acc);
          } else {
            // a border cell: the taps outside the image read zeros
            acc = bias;
            for (int ky = 0; ky < 3; ky++) {
              int iy = iy0 + ky;
              if (iy < 0 || iy >= h) {
                continue;
              }
              for (int kx = 0; kx < 3; kx++) {
                int ix = ix0 + kx;
                if (ix < 0 || ix >= w) {
                  continue;
                }
                acc = FloatVector.fromArray(S, x, (iy * w + ix) * cP + c)
                    .fma(FloatVector.fromArray(S, wt, (ky * 3 + kx) * cP + c), acc);
              }
            }
          }
          acc.max(ZERO).min(SIX).intoArray(out, (oy * ow + ox) * cP + c);
        }
      }
    }
  }

  /** F7: the cells' mean (or attention-weighted mean of the L2-normalised cells), L2-normalised. */
  private void pool(float[] f, int cells, int cP, Scratch s, float[] hidden, float[] f7, int i) {
    int d = config.featureDim();
    double[] p = new double[d];
    if (attention1 == null) {
      for (int q = 0; q < cells; q++) {
        for (int k = 0; k < d; k++) {
          p[k] += f[q * cP + k];
        }
      }
    } else {
      float[] unit = s.unit;
      for (int q = 0; q < cells; q++) {
        double ss = 0;
        for (int k = 0; k < d; k++) {
          ss += (double) f[q * cP + k] * f[q * cP + k];
        }
        float norm = (float) Math.sqrt(ss + 1e-12);
        for (int k = 0; k < d; k++) {
          unit[q * d + k] = f[q * cP + k] / norm;
        }
      }
      gemm(unit, cells, d, d, attention1, hidden, false, null, null);
      int hp = attention1.outP();
      for (int q = 0; q < cells; q++) {
        double z = attention2Bias;
        for (int k = 0; k < attention1.out(); k++) {
          z += Math.max(0f, hidden[q * hp + k]) * attention2[k];
        }
        double score = z > 20 ? z : Math.log1p(Math.exp(z));
        for (int k = 0; k < d; k++) {
          p[k] += unit[q * d + k] * score;
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
      for (int b = 0; b < bits; b++) {
        z[b] += x * hashW[k * bits + b];
      }
    }
    for (int b = 0; b < bits; b++) {
      latent[i * bits + b] = (float) (1 / (1 + Math.exp(-(z[b] + hashB[b]))));
    }
    java.util.Arrays.fill(z, 0);
    for (int b = 0; b < bits; b++) {
      double x = latent[i * bits + b];
      for (int c = 0; c < classes; c++) {
        z[c] += x * f8W[b * classes + c];
      }
    }
    double max = Double.NEGATIVE_INFINITY;
    for (int c = 0; c < classes; c++) {
      z[c] += f8B[c];
      max = Math.max(max, z[c]);
    }
    double sum = 0;
    for (int c = 0; c < classes; c++) {
      z[c] = Math.exp(z[c] - max);
      sum += z[c];
    }
    for (int c = 0; c < classes; c++) {
      probs[i * classes + c] = (float) (z[c] / sum);
    }
  }
}
