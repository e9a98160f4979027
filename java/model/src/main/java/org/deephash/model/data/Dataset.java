package org.deephash.model.data;

import java.util.List;

/**
 * Images in memory as float32 pixels in [0, 1], row-major N x H x W x C (the layout the network
 * takes), with an int label per image, the class names, and where each image came from (a file
 * path, or {@code file#index} for images packed in one file).
 *
 * <p>Row i is database id i when a dataset is indexed: "ties broken by database order" in the
 * evaluation protocol is then "ties by ascending id", the engine's contract.
 */
public record Dataset(
    int count, int height, int width, int channels, float[] pixels, int[] labels, List<String> classNames,
    List<String> sources) {

  public Dataset {
    long need = (long) count * height * width * channels;
    if (pixels.length != need) {
      throw new IllegalArgumentException("pixels hold " + pixels.length + " floats, " + count + " images of "
          + height + "x" + width + "x" + channels + " need " + need);
    }
    if (labels.length != count || sources.size() != count) {
      throw new IllegalArgumentException("labels and sources must have one entry per image (" + count + ")");
    }
    for (int i = 0; i < count; i++) {
      if (labels[i] < 0 || labels[i] >= classNames.size()) {
        throw new IllegalArgumentException("label " + labels[i] + " of " + sources.get(i) + " is outside [0, "
            + classNames.size() + ")");
      }
    }
  }

  /** Floats per image: H x W x C. */
  public int imageSize() {
    return height * width * channels;
  }

  public int classes() {
    return classNames.size();
  }

  /** A copy of image i's pixels. */
  public float[] image(int i) {
    float[] out = new float[imageSize()];
    System.arraycopy(pixels, i * imageSize(), out, 0, imageSize());
    return out;
  }

  /** The first {@code n} images (all when n >= count). */
  public Dataset head(int n) {
    if (n >= count) {
      return this;
    }
    float[] p = new float[n * imageSize()];
    System.arraycopy(pixels, 0, p, 0, p.length);
    int[] l = new int[n];
    System.arraycopy(labels, 0, l, 0, n);
    return new Dataset(n, height, width, channels, p, l, classNames, sources.subList(0, n));
  }

  /** The images at {@code rows} (indices into this set), in that order. */
  public Dataset rows(int[] rows) {
    int size = imageSize();
    float[] p = new float[rows.length * size];
    int[] l = new int[rows.length];
    String[] s = new String[rows.length];
    for (int i = 0; i < rows.length; i++) {
      int r = rows[i];
      if (r < 0 || r >= count) {
        throw new IndexOutOfBoundsException("row " + r + " is outside [0, " + count + ")");
      }
      System.arraycopy(pixels, r * size, p, i * size, size);
      l[i] = labels[r];
      s[i] = sources.get(r);
    }
    return new Dataset(rows.length, height, width, channels, p, l, classNames, List.of(s));
  }

  /** Images whose labels are outside this set's classes cannot exist; shape as "HxWxC". */
  public String shape() {
    return height + "x" + width + "x" + channels;
  }
}
