package org.deephash.delf.extract;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deephash.delf.net.DelfConfig;
import org.deephash.delf.net.DelfNet;
import org.deephash.model.data.Pixels;

/**
 * DELF extraction: the image (its longer side first brought to {@code baseSide}) is run through the
 * network at every scale of a pyramid; every cell of every level is a candidate keypoint at the
 * centre of its receptive field, mapped back to the original image (border cells excepted); the
 * {@code maxFeatures}
 * candidates with the highest attention (at least {@code minAttention}) are kept, their
 * descriptors L2-normalised.
 *
 * @param scales pyramid scales (default 0.25 to 2.0 in steps of sqrt 2)
 */
public record Extractor(int baseSide, float[] scales, int maxFeatures, float minAttention) {
  /** The paper's pyramid: 0.25, 0.3536, 0.5, 0.7071, 1, 1.4142, 2. */
  public static final float[] PAPER_SCALES = {0.25f, 0.35355f, 0.5f, 0.70711f, 1f, 1.41421f, 2f};

  public Extractor {
    if (baseSide < 16 || maxFeatures < 1 || scales.length == 0) {
      throw new IllegalArgumentException("need a base side >= 16 px, at least one scale and maxFeatures >= 1");
    }
    for (float s : scales) {
      if (!(s > 0) || s > 8) {
        throw new IllegalArgumentException("pyramid scales must be in (0, 8] (passed " + Arrays.toString(scales) + ")");
      }
    }
  }

  public static Extractor defaults() {
    return new Extractor(256, PAPER_SCALES, 1000, 0f);
  }

  /** Extracts the local features of one image. */
  public LocalFeatures extract(DelfNet net, BufferedImage image) {
    return extract(net, List.of(image), 1).get(0);
  }

  /**
   * Extracts the local features of several images. Pyramid levels of the same size (of any of the
   * images: photos of one aspect ratio share every level's size) go through the network together,
   * up to {@code batch} at a time; the result for each image is the same as {@link #extract(DelfNet,
   * BufferedImage)}'s. Callers with many images pass them a window at a time: every level of every
   * image passed is held until the window's selection is done.
   */
  public List<LocalFeatures> extract(DelfNet net, List<BufferedImage> images, int batch) {
    if (batch < 1) {
      throw new IllegalArgumentException("the extraction batch must be at least 1 (passed " + batch + ")");
    }
    int stride = net.config().stride();
    DelfNet.DenseOutput[][] levels = new DelfNet.DenseOutput[images.size()][scales.length];
    // (h, w) -> the (image, level) pairs of that size, in order
    Map<Long, List<int[]>> bySize = new LinkedHashMap<>();
    for (int i = 0; i < images.size(); i++) {
      BufferedImage image = images.get(i);
      float base = (float) baseSide / Math.max(image.getWidth(), image.getHeight());
      for (int l = 0; l < scales.length; l++) {
        int w = side(image.getWidth(), base * scales[l], stride);
        int h = side(image.getHeight(), base * scales[l], stride);
        bySize.computeIfAbsent(((long) h << 32) | w, k -> new ArrayList<>()).add(new int[] {i, l});
      }
    }
    for (Map.Entry<Long, List<int[]>> e : bySize.entrySet()) {
      int h = (int) (e.getKey() >>> 32);
      int w = (int) (long) e.getKey();
      List<int[]> items = e.getValue();
      for (int a = 0; a < items.size(); a += batch) {
        int n = Math.min(batch, items.size() - a);
        float[] x = new float[n * h * w * 3];
        for (int j = 0; j < n; j++) {
          float[] px = Pixels.of(images.get(items.get(a + j)[0]), h, w, Pixels.Channels.RGB);
          System.arraycopy(px, 0, x, j * px.length, px.length);
        }
        DelfNet.DenseOutput[] out = net.extract(x, n, h, w);
        for (int j = 0; j < n; j++) {
          int[] it = items.get(a + j);
          levels[it[0]][it[1]] = out[j];
        }
      }
    }
    List<LocalFeatures> result = new ArrayList<>(images.size());
    for (int i = 0; i < images.size(); i++) {
      result.add(select(net.config(), images.get(i), levels[i]));
    }
    return result;
  }

  /** Keeps the most attended cells of one image's levels (border cells excepted), mapped back to the image. */
  private LocalFeatures select(DelfConfig config, BufferedImage image, DelfNet.DenseOutput[] levels) {
    int d = config.descriptorDim();
    float base = (float) baseSide / Math.max(image.getWidth(), image.getHeight());
    int total = 0;
    float[][] fx = new float[scales.length][];
    for (int l = 0; l < scales.length; l++) {
      DelfNet.DenseOutput lv = levels[l];
      int w = lv.cols() * config.stride();
      int h = lv.rows() * config.stride();
      fx[l] = new float[] {(float) image.getWidth() / w, (float) image.getHeight() / h};
      total += lv.rows() * lv.cols();
    }
    float[] score = new float[total];
    int[] level = new int[total];
    int[] cell = new int[total];
    int c = 0;
    for (int l = 0; l < levels.length; l++) {
      DelfNet.DenseOutput lv = levels[l];
      for (int i = 0; i < lv.rows() * lv.cols(); i++) {
        if (border(i / lv.cols(), lv.rows()) || border(i % lv.cols(), lv.cols())) {
          continue;
        }
        score[c] = lv.attention()[i];
        level[c] = l;
        cell[c] = i;
        c++;
      }
    }
    total = c;
    Integer[] order = new Integer[total];
    for (int i = 0; i < total; i++) {
      order[i] = i;
    }
    // highest attention first; ties by level then cell, so extraction is deterministic
    Arrays.sort(order, (a, b) -> score[a] != score[b] ? Float.compare(score[b], score[a])
        : level[a] != level[b] ? Integer.compare(level[a], level[b]) : Integer.compare(cell[a], cell[b]));
    int n = 0;
    while (n < Math.min(maxFeatures, total) && score[order[n]] >= minAttention) {
      n++;
    }
    float[] desc = new float[n * d];
    float[] xy = new float[2 * n];
    float[] sc = new float[n];
    float[] at = new float[n];
    for (int j = 0; j < n; j++) {
      int o = order[j];
      DelfNet.DenseOutput lv = levels[level[o]];
      int row = cell[o] / lv.cols();
      int col = cell[o] % lv.cols();
      System.arraycopy(lv.descriptors(), cell[o] * d, desc, j * d, d);
      normalize(desc, j * d, d);
      xy[2 * j] = config.centre(col) * fx[level[o]][0];
      xy[2 * j + 1] = config.centre(row) * fx[level[o]][1];
      sc[j] = base * scales[level[o]];
      at[j] = score[o];
    }
    return new LocalFeatures(n, d, desc, xy, sc, at);
  }

  /** A side of {@code pixels} scaled by {@code s}, rounded to a multiple of the stride, at least two cells. */
  private static int side(int pixels, float s, int stride) {
    return Math.max(stride * 2, Math.round(pixels * s / stride) * stride);
  }

  /**
   * Cells on the border of a level (of one with at least 3 cells that way) are not keypoints: their
   * receptive fields are mostly zero padding, so their descriptors look alike across images and
   * match each other rather than the scene.
   */
  private static boolean border(int i, int n) {
    return n >= 3 && (i == 0 || i == n - 1);
  }

  /**
   * A global descriptor from the same network: the attention-weighted mean of the L2-normalised
   * descriptors at scale 1, L2-normalised (the "pooled DELF" baseline).
   */
  public float[] global(DelfNet net, BufferedImage image) {
    float base = (float) baseSide / Math.max(image.getWidth(), image.getHeight());
    int w = side(image.getWidth(), base, net.config().stride());
    int h = side(image.getHeight(), base, net.config().stride());
    DelfNet.DenseOutput o = net.extract(Pixels.of(image, h, w, Pixels.Channels.RGB), h, w);
    int d = o.dim();
    float[] g = new float[d];
    float[] v = new float[d];
    for (int i = 0; i < o.rows() * o.cols(); i++) {
      System.arraycopy(o.descriptors(), i * d, v, 0, d);
      normalize(v, 0, d);
      for (int k = 0; k < d; k++) {
        g[k] += o.attention()[i] * v[k];
      }
    }
    normalize(g, 0, d);
    return g;
  }

  /** Scales in place to unit L2 norm (a zero vector stays zero). */
  public static void normalize(float[] v, int off, int d) {
    double s = 0;
    for (int k = 0; k < d; k++) {
      s += (double) v[off + k] * v[off + k];
    }
    if (s > 0) {
      float inv = (float) (1 / Math.sqrt(s));
      for (int k = 0; k < d; k++) {
        v[off + k] *= inv;
      }
    }
  }
}
