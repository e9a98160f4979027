package org.deephash.model.pretrained;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * MobileNetV2 through a block, and the DELF attention head on its output, on the CPU with the
 * Vector API, from folded weights ({@link MobileNetV2#fold}'s form): what the hashing network
 * ({@code MobileNetForward}) and DELF's extraction ({@code DelfNet}) run in place of TensorFlow.
 *
 * <p>Why hand-written: TensorFlow Java's CPU build runs this backbone at about 4.5 ms for a 128 x
 * 128 image on the 2-core VM (its depthwise convolutions are built for neither AVX2 nor AVX-512);
 * no other inference library is a dependency of this project. Every 1 x 1 convolution (and the
 * stem, through im2col) is a small matrix product here, computed by a 4-row by 2-vector
 * register-blocked kernel (bias, ReLU6 and the residual add fused into its stores); a depthwise
 * convolution keeps one vector of channels' nine taps in registers over every cell. Channels are
 * padded to a whole number of vectors with zero weights, so no kernel has a ragged tail. One image
 * alone has its layers split over two cores ({@link SplitRunner}).
 *
 * <p>Results equal TensorFlow's up to float rounding (sums are taken in another order); the parity
 * tests are {@code MobileNetForwardTest} (hashing network) and {@code DelfNetTest} (DELF).
 * Thread-safe: buffers are per thread.
 */
public final class MobileNetV2Cpu implements AutoCloseable {
  /** The Vector API's constants (ask {@link CpuInference#chosen} before using this class at all). */
  private static final class V {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    static final FloatVector ZERO = FloatVector.zero(S);
    static final FloatVector SIX = FloatVector.broadcast(S, 6f);
  }

  /** A 1 x 1 convolution (or the stem's im2col product): {@code k} input rows, padded output width. */
  private record Dense(int k, int out, int outP, float[] w, float[] b) {}

  /** A depthwise 3 x 3 convolution over {@code cP} padded channels. */
  private record Depthwise(int c, int cP, int stride, float[] w, float[] b) {}

  private record Block(Dense expand, Depthwise depthwise, Dense project, boolean residual) {}

  private final Dense stem;
  private final List<Block> blocks;
  private final int channels;
  private final Dense attention1;
  private final float[] attention2;
  private final float attention2Bias;
  private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);
  private final SplitRunner runner;

  /**
   * The backbone through block {@code last} from {@code weights} (layer name to folded kernel and
   * bias); with {@code attention}, also the head {@code attention_1} (1 x 1, ReLU) and {@code
   * attention_2} (1 x 1 to one score, softplus) of the map.
   */
  public MobileNetV2Cpu(Map<String, MobileNetV2.Folded> weights, int last, boolean attention) {
    List<MobileNetV2.Conv> convs = MobileNetV2.layers(last);
    int i = 0;
    MobileNetV2.Conv c0 = convs.get(i++);
    stem = dense(c0, 9 * c0.in(), weights);
    List<Block> bs = new ArrayList<>();
    for (int b = 0; i < convs.size(); b++) {
      Dense expand = null;
      if (!convs.get(i).depthwise()) {
        MobileNetV2.Conv ec = convs.get(i++);
        expand = dense(ec, ec.in(), weights);
      }
      MobileNetV2.Conv dc = convs.get(i++);
      MobileNetV2.Folded f = folded(weights, dc.name());
      Depthwise dw = new Depthwise(dc.in(), pad(dc.in()), dc.stride(), repack(f.kernel(), 9, dc.in(), pad(dc.in())),
          repack(f.bias(), 1, dc.in(), pad(dc.in())));
      MobileNetV2.Conv pc = convs.get(i++);
      bs.add(new Block(expand, dw, dense(pc, pc.in(), weights), MobileNetV2.residual(b)));
    }
    blocks = List.copyOf(bs);
    channels = MobileNetV2.channels(last);
    if (attention) {
      MobileNetV2.Folded a1 = folded(weights, "attention_1");
      MobileNetV2.Folded a2 = folded(weights, "attention_2");
      int hidden = a1.bias().length;
      if (a1.kernel().length != channels * hidden || a2.kernel().length != hidden || a2.bias().length != 1) {
        throw new IllegalArgumentException("the attention head does not fit " + channels + " channels: "
            + a1.kernel().length + " + " + a2.kernel().length + " weights");
      }
      attention1 = new Dense(channels, hidden, pad(hidden), repack(a1.kernel(), channels, hidden, pad(hidden)),
          repack(a1.bias(), 1, hidden, pad(hidden)));
      attention2 = a2.kernel().clone();
      attention2Bias = a2.bias()[0];
    } else {
      attention1 = null;
      attention2 = null;
      attention2Bias = 0;
    }
    runner = SplitRunner.worthIt() ? new SplitRunner("mobilenet-v2-cpu") : null;
  }

  private static MobileNetV2.Folded folded(Map<String, MobileNetV2.Folded> weights, String layer) {
    MobileNetV2.Folded f = weights.get(layer);
    if (f == null) {
      throw new IllegalArgumentException("the weights lack layer " + layer);
    }
    return f;
  }

  /** Channels of the output map. */
  public int channels() {
    return channels;
  }

  /** Rows (or columns) of the output map for an input side. */
  public int outSide(int side) {
    int s = halved(side);
    for (Block b : blocks) {
      if (b.depthwise().stride() == 2) {
        s = halved(s);
      }
    }
    return s;
  }

  /**
   * A side after a 3 x 3 stride-2 layer: one zero row (column) at the bottom (right), then VALID,
   * as Keras pads: (side + 1 - 3) / 2 + 1.
   */
  private static int halved(int side) {
    return (side - 2) / 2 + 1;
  }

  private static int pad(int c) {
    return (c + V.L - 1) / V.L * V.L;
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
  private static Dense dense(MobileNetV2.Conv c, int rows, Map<String, MobileNetV2.Folded> weights) {
    MobileNetV2.Folded f = folded(weights, c.name());
    int outP = pad(c.out());
    return new Dense(rows, c.out(), outP, repack(f.kernel(), rows, c.out(), outP), repack(f.bias(), 1, c.out(), outP));
  }

  /** Per-thread buffers, grown to the largest image seen. */
  private static final class Scratch {
    float[] a = new float[0];
    float[] b = new float[0];
    float[] c = new float[0];
    float[] cols = new float[0];

    void fit(int floats, int im2col) {
      if (a.length < floats) {
        a = new float[floats];
        b = new float[floats];
        c = new float[floats];
      }
      if (cols.length < im2col) {
        cols = new float[im2col];
      }
    }
  }

  /** The largest map (floats, padded channels) of any layer for an h x w input, and the attention head's. */
  private int maxFloats(int h, int w) {
    int oh = halved(h);
    int ow = halved(w);
    int max = oh * ow * stem.outP();
    for (Block b : blocks) {
      if (b.expand() != null) {
        max = Math.max(max, oh * ow * b.expand().outP());
      }
      if (b.depthwise().stride() == 2) {
        oh = halved(oh);
        ow = halved(ow);
      }
      max = Math.max(max, oh * ow * b.depthwise().cP());
      max = Math.max(max, oh * ow * b.project().outP());
    }
    if (attention1 != null) {
      max = Math.max(max, oh * ow * attention1.outP());
    }
    return max;
  }

  /**
   * The output map of one h x w x 3 image (floats in [0, 1] from {@code px[off]}): {@code
   * outSide(h) x outSide(w) x channels()} floats written to {@code out[outOff]}, cells row-major;
   * with the attention head, each cell's score to {@code scores[scoreOff]} (null: none). One caller
   * at a time splits its layers over two cores; others run on their own thread.
   */
  public void run(float[] px, int off, int h, int w, float[] out, int outOff, float[] scores, int scoreOff) {
    if (h < 3 || w < 3) {
      throw new IllegalArgumentException("MobileNetV2 needs at least 3 x 3 pixels, not " + h + " x " + w);
    }
    if (runner != null && runner.tryAcquire()) {
      try {
        run(px, off, h, w, out, outOff, scores, scoreOff, runner);
      } finally {
        runner.release();
      }
    } else {
      run(px, off, h, w, out, outOff, scores, scoreOff, null);
    }
  }

  /** As {@link #run(float[], int, int, int, float[], int, float[], int)}, on this thread only. */
  public void runHere(float[] px, int off, int h, int w, float[] out, int outOff, float[] scores, int scoreOff) {
    run(px, off, h, w, out, outOff, scores, scoreOff, null);
  }

  private void run(float[] px, int off, int h, int w, float[] out, int outOff, float[] scores, int scoreOff,
      SplitRunner split) {
    Scratch s = scratch.get();
    // the stem: inputs to [-1, 1], one zero row and column at the bottom and right, 3 x 3 stride 2
    int oh = halved(h);
    int ow = halved(w);
    s.fit(maxFloats(h, w), oh * ow * stem.k());
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
    gemm(cols, oh * ow, stem.k(), stem.k(), stem, cur, true, null, split);
    h = oh;
    w = ow;
    int cP = stem.outP();
    for (Block b : blocks) {
      float[] x = cur;
      if (b.expand() != null) {
        gemm(cur, h * w, b.expand().k(), cP, b.expand(), other, true, null, split);
        x = other;
      }
      Depthwise dw = b.depthwise();
      int nh = dw.stride() == 2 ? halved(h) : h;
      int nw = dw.stride() == 2 ? halved(w) : w;
      depthwise(x, h, w, dw, mid, nh, nw, split);
      // the expansion (if any) is spent: the projection goes where it was; cur stays for the residual
      gemm(mid, nh * nw, b.project().k(), dw.cP(), b.project(), other, false, b.residual() ? cur : null, split);
      float[] t = cur;
      cur = other;
      other = t;
      h = nh;
      w = nw;
      cP = b.project().outP();
    }
    int cells = h * w;
    for (int q = 0; q < cells; q++) {
      System.arraycopy(cur, q * cP, out, outOff + q * channels, channels);
    }
    if (scores != null) {
      if (attention1 == null) {
        throw new IllegalStateException("this network was built without the attention head");
      }
      attention(cur, cells, cP, mid, other, scores, scoreOff);
    }
  }

  /**
   * DELF's attention score of each cell: softplus(attention_2 . relu(attention_1 . unit + b1) + b2),
   * unit the cell's L2-normalised descriptor (divided by sqrt(sum of squares + 1e-12)).
   */
  private void attention(float[] f, int cells, int cP, float[] unit, float[] hidden, float[] scores, int scoreOff) {
    for (int q = 0; q < cells; q++) {
      float norm = cellNorm(f, q * cP, channels);
      for (int k = 0; k < channels; k++) {
        unit[q * channels + k] = f[q * cP + k] / norm;
      }
    }
    gemm(unit, cells, channels, channels, attention1, hidden, false, null, null);
    int hp = attention1.outP();
    for (int q = 0; q < cells; q++) {
      double z = attention2Bias;
      for (int k = 0; k < attention1.out(); k++) {
        z += Math.max(0f, hidden[q * hp + k]) * attention2[k];
      }
      scores[scoreOff + q] = (float) (z > 20 ? z : Math.log1p(Math.exp(z)));
    }
  }

  /**
   * The length a cell's descriptor {@code f[off..off+n)} is divided by to make it a unit vector:
   * sqrt(sum of squares + 1e-12), as the networks' graphs compute it.
   */
  public static float cellNorm(float[] f, int off, int n) {
    double ss = 0;
    for (int k = 0; k < n; k++) {
      ss += (double) f[off + k] * f[off + k];
    }
    return (float) Math.sqrt(ss + 1e-12);
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
    float[] w = d.w();
    float[] bias = d.b();
    int n = d.outP();
    int r = r0;
    for (; r + 4 <= r1; r += 4) {
      int a0 = r * lda;
      int a1 = a0 + lda;
      int a2 = a1 + lda;
      int a3 = a2 + lda;
      int j = 0;
      for (; j + 2 * V.L <= n; j += 2 * V.L) {
        FloatVector c00 = FloatVector.fromArray(V.S, bias, j);
        FloatVector c01 = FloatVector.fromArray(V.S, bias, j + V.L);
        FloatVector c10 = c00;
        FloatVector c11 = c01;
        FloatVector c20 = c00;
        FloatVector c21 = c01;
        FloatVector c30 = c00;
        FloatVector c31 = c01;
        for (int kk = 0, wo = j; kk < k; kk++, wo += n) {
          FloatVector w0 = FloatVector.fromArray(V.S, w, wo);
          FloatVector w1 = FloatVector.fromArray(V.S, w, wo + V.L);
          FloatVector x0 = FloatVector.broadcast(V.S, a[a0 + kk]);
          FloatVector x1 = FloatVector.broadcast(V.S, a[a1 + kk]);
          FloatVector x2 = FloatVector.broadcast(V.S, a[a2 + kk]);
          FloatVector x3 = FloatVector.broadcast(V.S, a[a3 + kk]);
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
        store(c01, c, o + V.L, relu6, res);
        store(c10, c, o + n, relu6, res);
        store(c11, c, o + n + V.L, relu6, res);
        store(c20, c, o + 2 * n, relu6, res);
        store(c21, c, o + 2 * n + V.L, relu6, res);
        store(c30, c, o + 3 * n, relu6, res);
        store(c31, c, o + 3 * n + V.L, relu6, res);
      }
      for (; j < n; j += V.L) {
        FloatVector c0 = FloatVector.fromArray(V.S, bias, j);
        FloatVector c1 = c0;
        FloatVector c2 = c0;
        FloatVector c3 = c0;
        for (int kk = 0, wo = j; kk < k; kk++, wo += n) {
          FloatVector w0 = FloatVector.fromArray(V.S, w, wo);
          c0 = w0.fma(FloatVector.broadcast(V.S, a[a0 + kk]), c0);
          c1 = w0.fma(FloatVector.broadcast(V.S, a[a1 + kk]), c1);
          c2 = w0.fma(FloatVector.broadcast(V.S, a[a2 + kk]), c2);
          c3 = w0.fma(FloatVector.broadcast(V.S, a[a3 + kk]), c3);
        }
        int o = r * n + j;
        store(c0, c, o, relu6, res);
        store(c1, c, o + n, relu6, res);
        store(c2, c, o + 2 * n, relu6, res);
        store(c3, c, o + 3 * n, relu6, res);
      }
    }
    for (; r < r1; r++) {
      int a0 = r * lda;
      for (int j = 0; j < n; j += V.L) {
        FloatVector c0 = FloatVector.fromArray(V.S, bias, j);
        for (int kk = 0, wo = j; kk < k; kk++, wo += n) {
          c0 = FloatVector.fromArray(V.S, w, wo).fma(FloatVector.broadcast(V.S, a[a0 + kk]), c0);
        }
        store(c0, c, r * n + j, relu6, res);
      }
    }
  }

  private static void store(FloatVector v, float[] c, int o, boolean relu6, float[] res) {
    if (res != null) {
      v = v.add(FloatVector.fromArray(V.S, res, o));
    }
    if (relu6) {
      v = v.max(V.ZERO).min(V.SIX);
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
    for (int c = 0; c < cP; c += V.L) {
      FloatVector bias = FloatVector.fromArray(V.S, d.b(), c);
      FloatVector k0 = FloatVector.fromArray(V.S, wt, c);
      FloatVector k1 = FloatVector.fromArray(V.S, wt, cP + c);
      FloatVector k2 = FloatVector.fromArray(V.S, wt, 2 * cP + c);
      FloatVector k3 = FloatVector.fromArray(V.S, wt, 3 * cP + c);
      FloatVector k4 = FloatVector.fromArray(V.S, wt, 4 * cP + c);
      FloatVector k5 = FloatVector.fromArray(V.S, wt, 5 * cP + c);
      FloatVector k6 = FloatVector.fromArray(V.S, wt, 6 * cP + c);
      FloatVector k7 = FloatVector.fromArray(V.S, wt, 7 * cP + c);
      FloatVector k8 = FloatVector.fromArray(V.S, wt, 8 * cP + c);
      int row = w * cP;
      for (int oy = y0; oy < y1; oy++) {
        int iy0 = oy * s - top;
        boolean rowsInside = iy0 >= 0 && iy0 + 2 < h;
        for (int ox = 0; ox < ow; ox++) {
          int ix0 = ox * s - top;
          FloatVector acc;
          if (rowsInside && ix0 >= 0 && ix0 + 2 < w) {
            int p = (iy0 * w + ix0) * cP + c;
            acc = FloatVector.fromArray(V.S, x, p).fma(k0, bias);
            acc = FloatVector.fromArray(V.S, x, p + cP).fma(k1, acc);
            acc = FloatVector.fromArray(V.S, x, p + 2 * cP).fma(k2, acc);
            acc = FloatVector.fromArray(V.S, x, p + row).fma(k3, acc);
            acc = FloatVector.fromArray(V.S, x, p + row + cP).fma(k4, acc);
            acc = FloatVector.fromArray(V.S, x, p + row + 2 * cP).fma(k5, acc);
            acc = FloatVector.fromArray(V.S, x, p + 2 * row).fma(k6, acc);
            acc = FloatVector.fromArray(V.S, x, p + 2 * row + cP).fma(k7, acc);
            acc = FloatVector.fromArray(V.S, x, p + 2 * row + 2 * cP).fma(k8, acc);
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
                acc = FloatVector.fromArray(V.S, x, (iy * w + ix) * cP + c)
                    .fma(FloatVector.fromArray(V.S, wt, (ky * 3 + kx) * cP + c), acc);
              }
            }
          }
          acc.max(V.ZERO).min(V.SIX).intoArray(out, (oy * ow + ox) * cP + c);
        }
      }
    }
  }

  @Override
  public void close() {
    if (runner != null) {
      runner.close();
    }
  }
}
