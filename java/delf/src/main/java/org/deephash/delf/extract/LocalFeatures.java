package org.deephash.delf.extract;

/**
 * The local features of one image: {@code count} descriptors of {@code dim} floats (row-major),
 * each with its keypoint (x, y in the original image's pixels), the pyramid scale it came from,
 * and its attention score; ordered by descending attention.
 */
public record LocalFeatures(int count, int dim, float[] descriptors, float[] xy, float[] scales, float[] scores) {
  public LocalFeatures {
    if (descriptors.length != (long) count * dim || xy.length != 2L * count || scales.length != count
        || scores.length != count) {
      throw new IllegalArgumentException("local features of " + count + " keypoints need " + count * dim
          + " descriptor floats, " + 2 * count + " coordinates, " + count + " scales and scores");
    }
  }

  /** The same keypoints with other descriptors (after PCA). */
  public LocalFeatures withDescriptors(float[] d, int newDim) {
    return new LocalFeatures(count, newDim, d, xy, scales, scores);
  }

  /** The first {@code k} keypoints (the most attended ones). */
  public LocalFeatures head(int k) {
    if (k >= count) {
      return this;
    }
    return new LocalFeatures(k, dim, java.util.Arrays.copyOf(descriptors, k * dim), java.util.Arrays.copyOf(xy, 2 * k),
        java.util.Arrays.copyOf(scales, k), java.util.Arrays.copyOf(scores, k));
  }
}
